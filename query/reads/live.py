"""SQL fragments for "the live rows": newest version per id, tombstones dropped.

Versions of one row may differ in sort-key columns (a trace's timestamp moves to its root span's
start; see `spyglass.collector.otel.trace_patch`), so a time-bounded read dedupes over a window
widened by `SLACK` and applies the exact bounds to the newest version only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from spyglass.query.reads.sql import INT, STRING, STRINGS, TIME, Params, latest, where
from spyglass.store.clickhouse.client import ClickHouse

# How far a row's versions may lie outside the window a read asks for (a trace's timestamp can
# move back to its root span's start once that span arrives).
SLACK = timedelta(days=1)

PROJECT = "project_id = {p:String}"

TRACE_FILTER_COLUMNS = (
    "id, name, user_id, session_id, release, version, environment, tags, public, bookmarked, metadata, is_deleted"
)


def time_window(column: str, params: Params, start: datetime | None, end: datetime | None) -> list[str]:
    """Widened bounds on `column` for the dedupe pass (see module docstring)."""
    out = []
    if start is not None:
        out.append(f"{column} >= {params.bind(start - SLACK, TIME)}")
    if end is not None:
        out.append(f"{column} < {params.bind(end + SLACK, TIME)}")
    return out


def exact_window(column: str, params: Params, start: datetime | None, end: datetime | None) -> list[str]:
    out = []
    if start is not None:
        out.append(f"{column} >= {params.bind(start, TIME)}")
    if end is not None:
        out.append(f"{column} < {params.bind(end, TIME)}")
    return out


def live_trace_ids(conditions: list[str]) -> str:
    """A subquery of the ids of live traces (of `{p}`) whose newest version meets `conditions`.

    The inner `id IN` narrows the dedupe to traces that have *some* matching version (a superset
    the bloom-filter indexes on user_id, session_id and tags can find quickly); the outer filter
    then judges the newest version only.
    """
    cond = where(conditions)
    candidates = f"id IN (SELECT id FROM traces WHERE {PROJECT} AND {cond})"
    inner = latest("traces", TRACE_FILTER_COLUMNS, [PROJECT, candidates])
    return f"SELECT id FROM ({inner}) WHERE is_deleted = 0 AND {cond}"


def ids_condition(column: str, ids: list[str], params: Params) -> str:
    return f"{column} IN {params.bind(ids, STRINGS)}"


def newest_live(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest version of each id (by `version_us`), tombstones dropped."""
    newest: dict[str, dict[str, Any]] = {}
    for r in rows:
        seen = newest.get(r["id"])
        if seen is None or int(r["version_us"]) > int(seen["version_us"]):
            newest[r["id"]] = r
    return [r for r in newest.values() if not r["is_deleted"]]


async def select_live(
    ch: ClickHouse, table: str, columns: str, conditions: list[str], params: Params
) -> list[dict[str, Any]]:
    """The newest version of every `table` row matching `conditions`, tombstones dropped."""
    return await ch.rows(f"SELECT * FROM ({latest(table, columns, conditions)}) WHERE is_deleted = 0", params.values)


async def live_in_order(
    ch: ClickHouse, table: str, columns: str, conditions: list[str], params: Params, ids: list[str]
) -> list[dict[str, Any]]:
    """`select_live`, returned in the order of `ids` (a page's order), missing ids skipped."""
    by_id = {r["id"]: r for r in await select_live(ch, table, columns, conditions, params)}
    return [by_id[i] for i in ids if i in by_id]


async def get_live(ch: ClickHouse, table: str, columns: str, project_id: str, row_id: str) -> dict[str, Any] | None:
    """One row by id: its newest version, or None when absent or deleted."""
    params = Params(p=project_id)
    rows = await select_live(ch, table, columns, [PROJECT, f"id = {params.bind(row_id, STRING)}"], params)
    return rows[0] if rows else None


async def live_picked(
    ch: ClickHouse,
    table: str,
    columns: str,
    project_id: str,
    picked: list[dict[str, Any]],
    *,
    time_column: str,
    us_key: str,
) -> list[dict[str, Any]]:
    """Full live rows for a page of picked `(id, <us_key>)` pairs, in the picked order. The
    page's own time span bounds the read, so the primary key prunes to a few granules."""
    if not picked:
        return []
    params = Params(p=project_id)
    ids = [r["id"] for r in picked]
    lo = min(int(r[us_key]) for r in picked)
    hi = max(int(r[us_key]) for r in picked)
    conditions = [
        PROJECT,
        ids_condition("id", ids, params),
        f"{time_column} >= fromUnixTimestamp64Micro({params.bind(lo, INT)}, 'UTC')",
        f"{time_column} <= fromUnixTimestamp64Micro({params.bind(hi, INT)}, 'UTC')",
    ]
    return await live_in_order(ch, table, columns, conditions, params, ids)
