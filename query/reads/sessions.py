"""Sessions, derived from the traces' `session_id`: created at its first trace, in that trace's
environment.

Sessions aggregate live trace rows directly (tombstoned trace ids excluded) instead of deduping
every trace version first: versions of one trace share its session, so extra versions change
neither the first timestamp nor the set of sessions. (A trace moved to another session counts in
both until its versions merge.)
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from spyglass.query.reads import traces
from spyglass.query.reads.live import PROJECT, exact_window, newest_live
from spyglass.query.reads.params import Page
from spyglass.query.reads.sql import STRING, STRINGS, Params, where
from spyglass.query.reads.values import iso
from spyglass.store.clickhouse.client import ClickHouse

_HAS_SESSION = "session_id IS NOT NULL AND session_id != ''"
_TOMBSTONED = f"SELECT id FROM traces WHERE {PROJECT} AND is_deleted = 1"


def _grouped(params: Params, start: datetime | None, end: datetime | None, environments: list[str]) -> str:
    """One row per live session: id, created, created_us, environment (filters applied)."""
    # `traces.id`, qualified: ClickHouse resolves SELECT aliases in WHERE, and this query selects
    # `session_id AS id`, so a bare `id` would compare session ids with trace ids.
    conditions = [PROJECT, _HAS_SESSION, "is_deleted = 0", f"traces.id NOT IN ({_TOMBSTONED})"]
    if start is not None or end is not None:
        # Only sessions with a trace in the window can have been created in it; their creation
        # time is still computed over all their traces (one that began earlier is not new).
        window = where([PROJECT, _HAS_SESSION, *exact_window("timestamp", params, start, end)])
        conditions.append(f"session_id IN (SELECT DISTINCT session_id FROM traces WHERE {window})")
    having = exact_window("created", params, start, end)
    if environments:
        having.append(f"environment IN {params.bind(environments, STRINGS)}")
    return (
        "SELECT session_id AS id, min(timestamp) AS created, toUnixTimestamp64Micro(created) AS created_us, "
        f"argMin(environment, timestamp) AS environment FROM traces WHERE {where(conditions)} "
        f"GROUP BY session_id HAVING {where(having)}"
    )


async def page(
    ch: ClickHouse,
    project_id: str,
    pg: Page,
    *,
    start: datetime | None,
    end: datetime | None,
    environments: list[str],
) -> tuple[list[dict[str, Any]], int]:
    params = Params(p=project_id)
    grouped = _grouped(params, start, end, environments)
    page_sql = (
        f"SELECT id, created_us, environment FROM ({grouped}) "
        f"ORDER BY created DESC, id DESC LIMIT {pg.limit:d} OFFSET {pg.offset:d}"
    )
    count_sql = f"SELECT count() AS n FROM ({grouped})"
    rows, counted = await asyncio.gather(ch.rows(page_sql, params.values), ch.rows(count_sql, params.values))
    return rows, int(counted[0]["n"]) if counted else 0


async def traces_of(ch: ClickHouse, project_id: str, session_id: str) -> list[dict[str, Any]]:
    """The session's live traces (full rows), oldest first."""
    params = Params(p=project_id)
    bound = params.bind(session_id, STRING)
    sql = (
        f"SELECT {traces.FULL_COLUMNS}, toUnixTimestamp64Micro(event_ts) AS version_us FROM traces "
        f"WHERE {PROJECT} AND id IN (SELECT id FROM traces WHERE {PROJECT} AND session_id = {bound})"
    )
    rows = [r for r in newest_live(await ch.rows(sql, params.values)) if r.get("session_id") == session_id]
    return sorted(rows, key=lambda r: (int(r["ts_us"]), r["id"]))


def session(row: dict[str, Any], project_id: str) -> dict[str, Any]:
    return {
        "id": row["id"],
        "createdAt": iso(row["created_us"]),
        "projectId": project_id,
        "environment": row["environment"],
    }
