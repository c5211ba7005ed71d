"""Traces: list (page of ids first, then rows and child aggregates for those ids only) and detail."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import msgspec

from spyglass.query.reads import filters, paging
from spyglass.query.reads.filters import ARRAY_KIND, BOOL_KIND, MAP_KIND, STRING_KIND, TIME_KIND, Column
from spyglass.query.reads.live import (
    PROJECT,
    SLACK,
    exact_window,
    get_live,
    ids_condition,
    live_picked,
    select_live,
    time_window,
)
from spyglass.query.reads.params import Page
from spyglass.query.reads.sql import INT, STRING, STRINGS, Params, latest
from spyglass.query.reads.values import iso, json_value, metadata, micros_of, time_select
from spyglass.store.clickhouse.client import ClickHouse

FIELD_GROUPS = ("core", "io", "scores", "observations", "metrics")

_CORE = [
    "id",
    "project_id",
    time_select("timestamp", "ts_us"),
    "name",
    "user_id",
    "session_id",
    "release",
    "version",
    "environment",
    "tags",
    "public",
    "bookmarked",
    time_select("created_at", "created_us"),
    time_select("updated_at", "updated_us"),
    "is_deleted",
]
FULL_COLUMNS = ", ".join([*_CORE, "metadata", "input", "output"])
# Without the text-heavy columns, for lists asked to leave out the `io` group.
CORE_COLUMNS = ", ".join(_CORE)

_NARROW = (
    "id, timestamp, name, user_id, session_id, release, version, environment, tags, public, bookmarked, is_deleted"
)

ORDER_COLUMNS = {
    "id": "id",
    "timestamp": "timestamp",
    "name": "name",
    "userId": "user_id",
    "release": "release",
    "version": "version",
    "public": "public",
    "bookmarked": "bookmarked",
    "sessionId": "session_id",
}

FILTER_COLUMNS: dict[str, Column] = {
    "id": Column("id", STRING_KIND),
    "name": Column("name", STRING_KIND),
    "timestamp": Column("timestamp", TIME_KIND),
    "userId": Column("user_id", STRING_KIND),
    "sessionId": Column("session_id", STRING_KIND),
    "release": Column("release", STRING_KIND),
    "version": Column("version", STRING_KIND),
    "environment": Column("environment", STRING_KIND),
    "tags": Column("tags", ARRAY_KIND),
    "bookmarked": Column("bookmarked", BOOL_KIND),
    "public": Column("public", BOOL_KIND),
    "metadata": Column("metadata", MAP_KIND),
}


class TraceSelection(msgspec.Struct, kw_only=True):
    params: Params
    conditions: list[str]
    start: datetime | None
    end: datetime | None
    needs_metadata: bool
    # A user or session filter: few traces match (see `paging.count`).
    selective: bool = False


def select_from_query(
    project_id: str,
    *,
    user_id: str | None,
    name: str | None,
    session_id: str | None,
    tags: list[str],
    version: str | None,
    release: str | None,
    environments: list[str],
    start: datetime | None,
    end: datetime | None,
    filter_raw: str | None,
) -> TraceSelection:
    params = Params(p=project_id)
    conds: list[str] = []
    for column, value in (
        ("user_id", user_id),
        ("name", name),
        ("session_id", session_id),
        ("version", version),
        ("release", release),
    ):
        if value is not None:
            conds.append(f"{column} = {params.bind(value, STRING)}")
    if tags:
        conds.append(f"hasAll(tags, {params.bind(tags, STRINGS)})")
    if environments:
        conds.append(f"environment IN {params.bind(environments, STRINGS)}")
    conds.extend(exact_window("timestamp", params, start, end))
    extra = filters.parse(filter_raw)
    if extra:
        conds.extend(filters.compile_filters(extra, FILTER_COLUMNS, params).row)
    needs_metadata = any(c.get("column") == "metadata" for c in extra)
    return TraceSelection(
        params=params,
        conditions=conds,
        start=start,
        end=end,
        needs_metadata=needs_metadata,
        selective=user_id is not None or session_id is not None,
    )


def listing(sel: TraceSelection, order: tuple[str, str]) -> paging.Listing:
    column, direction = order
    newest_first = column == "timestamp" and direction == "DESC"
    return paging.Listing(
        table="traces",
        time_column="timestamp",
        params=sel.params,
        direct=[PROJECT, *time_window("timestamp", sel.params, sel.start, sel.end)],
        conditions=sel.conditions,
        narrow=_NARROW + (", metadata" if sel.needs_metadata else ""),
        picked="id, toUnixTimestamp64Micro(timestamp) AS ts_us",
        order=f"{column} {direction}, id {direction}",
        windowed=newest_first,
        anchor_us=micros_of(sel.end) if sel.end else None,
        floor_us=micros_of(sel.start) if sel.start else None,
        selective=sel.selective,
    )


async def page_ids(
    ch: ClickHouse, sel: TraceSelection, page: Page, order: tuple[str, str]
) -> tuple[list[dict[str, Any]], int]:
    """The page's `(id, ts_us)` in order, and the number of matching traces."""
    spec = listing(sel, order)
    picked, total = await asyncio.gather(paging.page(ch, spec, page.offset, page.limit), paging.count(ch, spec))
    return picked, total


async def rows_for(
    ch: ClickHouse, project_id: str, picked: list[dict[str, Any]], *, with_io: bool = True
) -> list[dict[str, Any]]:
    """Full live rows for picked `(id, ts_us)` pairs, in the picked order."""
    columns = FULL_COLUMNS if with_io else CORE_COLUMNS
    return await live_picked(ch, "traces", columns, project_id, picked, time_column="timestamp", us_key="ts_us")


async def get_one(ch: ClickHouse, project_id: str, trace_id: str) -> dict[str, Any] | None:
    return await get_live(ch, "traces", FULL_COLUMNS, project_id, trace_id)


class ChildStats(msgspec.Struct):
    observation_ids: list[str]
    total_cost: float
    latency: float


def _children_of(params: Params, trace_ids: list[str], column: str, since_us: int) -> list[str]:
    """Children of a page of traces. A list of trace ids defeats the coarse trace_id bloom filter,
    so the read starts `SLACK` before the page's earliest trace (the primary key prunes older
    days); a child that began over a day before its trace is left out of the list's aggregates
    (the trace detail, which looks up one trace id, still shows it)."""
    since = params.bind(since_us - int(SLACK.total_seconds() * 1_000_000), INT)
    return [
        PROJECT,
        ids_condition("trace_id", trace_ids, params),
        f"{column} >= fromUnixTimestamp64Micro({since}, 'UTC')",
    ]


async def observation_stats(
    ch: ClickHouse, project_id: str, trace_ids: list[str], since_us: int
) -> dict[str, ChildStats]:
    """Per trace: live observation ids, summed cost, latency (first start to last start/end)."""
    if not trace_ids:
        return {}
    params = Params(p=project_id)
    conditions = _children_of(params, trace_ids, "start_time", since_us)
    inner = latest("observations", "id, trace_id, start_time, end_time, total_cost, is_deleted", conditions)
    sql = (
        "SELECT trace_id, groupArray(id) AS ids, toFloat64(sum(ifNull(total_cost, 0))) AS cost, "
        "toUnixTimestamp64Micro(min(start_time)) AS first_us, toUnixTimestamp64Micro(max(start_time)) AS last_us, "
        "toUnixTimestamp64Micro(max(end_time)) AS end_us "
        f"FROM ({inner}) WHERE is_deleted = 0 GROUP BY trace_id"
    )
    out: dict[str, ChildStats] = {}
    for r in await ch.rows(sql, params.values):
        out[r["trace_id"]] = ChildStats(
            observation_ids=r["ids"],
            total_cost=float(r["cost"] or 0.0),
            latency=latency_seconds(r["first_us"], r["last_us"], r.get("end_us")),
        )
    return out


def latency_seconds(first_start: int | None, last_start: int | None, last_end: int | None) -> float:
    """From the first observation's start to the last moment any observation started or ended."""
    if first_start is None:
        return 0.0
    last = max(v for v in (last_start, last_end, first_start) if v is not None)
    return (int(last) - int(first_start)) / 1e6


def stats_of(observations: Iterable[Mapping[str, Any]]) -> tuple[float, float]:
    """(latency, total cost) of a trace from its observation rows, as the list computes them."""
    rows = list(observations)
    if not rows:
        return 0.0, 0.0
    starts = [int(r["start_us"]) for r in rows]
    ends = [int(r["end_us"]) for r in rows if r.get("end_us") is not None]
    latency = latency_seconds(min(starts), max(starts), max(ends) if ends else None)
    cost = sum(float(r["total_cost"]) for r in rows if r.get("total_cost") is not None)
    return latency, cost


async def score_ids(ch: ClickHouse, project_id: str, trace_ids: list[str], since_us: int) -> dict[str, list[str]]:
    if not trace_ids:
        return {}
    params = Params(p=project_id)
    conditions = _children_of(params, trace_ids, "timestamp", since_us)
    inner = latest("scores", "id, trace_id, is_deleted", conditions)
    sql = f"SELECT trace_id, groupArray(id) AS ids FROM ({inner}) WHERE is_deleted = 0 GROUP BY trace_id"
    return {r["trace_id"]: r["ids"] for r in await ch.rows(sql, params.values)}


async def context_for(ch: ClickHouse, project_id: str, trace_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Trace attributes denormalised onto observations and scores (user, session, tags, ...)."""
    ids = sorted({t for t in trace_ids if t})
    if not ids:
        return {}
    params = Params(p=project_id)
    conditions = [PROJECT, ids_condition("id", ids, params)]
    columns = "id, name, user_id, session_id, tags, release, environment, public, bookmarked, is_deleted"
    return {r["id"]: r for r in await select_live(ch, "traces", columns, conditions, params)}


# -- shapes ----------------------------------------------------------------------------------


def html_path(project_id: str, trace_id: str) -> str:
    return f"/project/{project_id}/traces/{trace_id}"


def trace(r: Mapping[str, Any], *, with_io: bool = True) -> dict[str, Any]:
    """A `Trace` (what sessions embed and the other trace shapes extend)."""
    out: dict[str, Any] = {
        "id": r["id"],
        "projectId": r["project_id"],
        "timestamp": iso(r["ts_us"]),
        "name": r["name"],
        "input": json_value(r.get("input")) if with_io else None,
        "output": json_value(r.get("output")) if with_io else None,
        "sessionId": r.get("session_id"),
        "release": r.get("release"),
        "version": r.get("version"),
        "userId": r.get("user_id"),
        "metadata": metadata(r.get("metadata")) if with_io else None,
        "tags": r.get("tags") or [],
        "public": bool(r.get("public")),
        "bookmarked": bool(r.get("bookmarked")),
        "environment": r["environment"],
        "externalId": None,
        "createdAt": iso(r.get("created_us")),
        "updatedAt": iso(r.get("updated_us")),
    }
    out["htmlPath"] = html_path(r["project_id"], r["id"])
    return out


def order_from(raw: str | None) -> tuple[str, str] | None:
    """`field.asc|desc` → (column, direction), or None when the value is not valid."""
    if raw is None:
        return ("timestamp", "DESC")
    field, sep, direction = raw.partition(".")
    column = ORDER_COLUMNS.get(field)
    if column is None or (sep and direction.lower() not in ("asc", "desc")):
        return None
    return column, (direction or "desc").upper()
