"""Deleting traces (with their observations and scores) and scores.

Two steps:

1. Hide, before answering: insert a tombstone (`is_deleted = 1`, `event_ts` newer than every
   version) for each distinct sort-key version of each row. Every read takes the newest version
   of an id and drops tombstones, so the rows vanish from all queries at once. One tombstone per
   version's sort key (not just one per id) matters twice: ReplacingMergeTree only collapses rows
   with equal sort keys, and a time-windowed read that can see some version must also see a
   newer tombstone. Tombstones keep the identifying and filter columns (ids, times, session,
   type, name) and blank the payload (input, output, metadata, comments, ...).
2. Purge, in the background: a lightweight `DELETE` of the live versions older than the
   tombstones, so the payload really leaves the disk. Tombstones stay: they are small, and they
   keep hiding a version an ingestion batch commits late (received before the delete). Data
   ingested after the delete has a newer `event_ts` and shows again, as in Langfuse.

If the process stops before a purge ran, the rows stay hidden; the purge is not retried (they are
removed with the project's retention or a later delete of the same ids).

Workers cache the rows they wrote last (they merge updates into them), in this process or in
others: after every delete a `spyglass_rows_deleted` notification with the project id goes out
through PostgreSQL, and every worker drops that project's cached rows, or a late update would
bring deleted content back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import asyncpg
import msgspec

from spyglass.collector.worker.encode import json_each_row
from spyglass.query.reads.sql import STRINGS, TIME, Params
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.rows import TIME_COLUMNS, ObservationRow, ScoreRow, TraceRow
from spyglass.store.errors import StoreError
from spyglass.store.postgres.notify import ROWS_DELETED, notify

log = logging.getLogger("spyglass.query.deletion")

R = TypeVar("R", TraceRow, ObservationRow, ScoreRow)
Row = TraceRow | ObservationRow | ScoreRow

_TABLES: dict[type[msgspec.Struct], str] = {TraceRow: "traces", ObservationRow: "observations", ScoreRow: "scores"}
# The columns a sort key (or a read's time window) is made of, besides id.
_VERSION_KEY = {TraceRow: "timestamp", ObservationRow: "type, start_time", ScoreRow: "timestamp, name"}
_BLANK: dict[type[msgspec.Struct], dict[str, Any]] = {
    TraceRow: {"input": None, "output": None, "metadata": {}},
    ObservationRow: {
        "input": None,
        "output": None,
        "metadata": {},
        "model_parameters": None,
        "status_message": None,
        "tool_definitions": {},
        "tool_calls": [],
        "tool_call_names": [],
        "otel_events": "",
        "otel_links": "",
    },
    ScoreRow: {"comment": None, "metadata": {}, "string_value": None, "long_string_value": ""},
}
_CHUNK = 1000

# Purges running in the background; kept referenced so they are not garbage-collected mid-way.
_purges: set[asyncio.Task[None]] = set()


async def _notify(pool: asyncpg.Pool, project_id: str) -> None:
    try:
        await notify(pool, ROWS_DELETED, project_id)
    except StoreError:  # the rows are hidden already; a worker missing this only risks a stale cache
        log.exception("could not tell workers about deleted rows of project %s", project_id)


def _select(kind: type[msgspec.Struct]) -> str:
    times = set(TIME_COLUMNS[_TABLES[kind]])
    return ", ".join(
        f"toUnixTimestamp64Micro({name}) AS {name}" if name in times else f"`{name}`" for name in kind.__struct_fields__
    )


async def _versions(ch: ClickHouse, kind: type[R], project_id: str, column: str, ids: list[str]) -> list[R]:
    """The newest row of each (id, sort-key) version among rows whose `column` is in `ids`."""
    table = _TABLES[kind]
    times = TIME_COLUMNS[table]
    out: list[R] = []
    for start in range(0, len(ids), _CHUNK):
        params = Params(p=project_id)
        sql = (
            f"SELECT {_select(kind)} FROM {table} WHERE project_id = {{p:String}} "
            f"AND {column} IN {params.bind(ids[start : start + _CHUNK], STRINGS)} "
            f"ORDER BY event_ts DESC LIMIT 1 BY id, {_VERSION_KEY[kind]}"
        )
        for r in await ch.rows(sql, params.values):
            for t in times:
                if r.get(t) is not None:
                    r[t] = int(r[t]) / 1e6
            for flag in ("public", "bookmarked"):
                if flag in r:
                    r[flag] = bool(r[flag])
            out.append(msgspec.convert(r, kind, strict=False))
    return out


def _tombstones(rows: Iterable[Row], version_ts: float) -> list[Row]:
    out: list[Row] = []
    for row in rows:
        blank = _BLANK[type(row)]
        out.append(msgspec.structs.replace(row, is_deleted=1, event_ts=version_ts, updated_at=version_ts, **blank))
    return out


def _version_ts(*groups: Iterable[Row]) -> float:
    """Now, or just after the newest version seen if a clock ran ahead of ours."""
    newest = max((row.event_ts for rows in groups for row in rows), default=0.0)
    return max(time.time(), newest + 1e-6)


async def delete_traces(ch: ClickHouse, pool: asyncpg.Pool, project_id: str, trace_ids: list[str]) -> set[str]:
    """Hide the traces, their observations and their scores now; purge them in the background.

    Returns the ids that had anything live in this project (the others are left alone)."""
    ids = sorted(set(trace_ids))
    if not ids:
        return set()
    traces, observations, scores = await asyncio.gather(
        _versions(ch, TraceRow, project_id, "id", ids),
        _versions(ch, ObservationRow, project_id, "trace_id", ids),
        _versions(ch, ScoreRow, project_id, "trace_id", ids),
    )
    found = {t.id for t in traces if not t.is_deleted}
    found.update(o.trace_id for o in observations if not o.is_deleted and o.trace_id)
    found.update(s.trace_id for s in scores if not s.is_deleted and s.trace_id)
    if not found:
        return found
    version_ts = _version_ts(traces, observations, scores)
    # Children first, the trace last: if an insert fails midway the trace is still listed, so the
    # client sees the error and can retry the delete, instead of a hidden trace with live children.
    tables: tuple[tuple[str, Sequence[Row]], ...] = (
        ("observations", observations),
        ("scores", scores),
        ("traces", traces),
    )
    for table, rows in tables:
        if rows:
            await ch.insert_json(table, json_each_row(_tombstones(rows, version_ts)))
    await _notify(pool, project_id)
    _purge_later(
        ch,
        project_id,
        version_ts,
        [("traces", "id", ids), ("observations", "trace_id", ids), ("scores", "trace_id", ids)],
    )
    return found


async def delete_score(ch: ClickHouse, pool: asyncpg.Pool, project_id: str, score_id: str) -> bool:
    """Hide one score now and purge it later; False when there is no live score with that id."""
    rows = await _versions(ch, ScoreRow, project_id, "id", [score_id])
    newest = max(rows, key=lambda r: r.event_ts, default=None)
    if newest is None or newest.is_deleted:
        return False
    version_ts = _version_ts(rows)
    await ch.insert_json("scores", json_each_row(_tombstones(rows, version_ts)))
    await _notify(pool, project_id)
    _purge_later(ch, project_id, version_ts, [("scores", "id", [score_id])])
    return True


def _purge_later(ch: ClickHouse, project_id: str, version_ts: float, targets: list[tuple[str, str, list[str]]]) -> None:
    task = asyncio.get_running_loop().create_task(_purge(ch, project_id, version_ts, targets))
    _purges.add(task)
    task.add_done_callback(_purges.discard)


async def _purge(ch: ClickHouse, project_id: str, version_ts: float, targets: list[tuple[str, str, list[str]]]) -> None:
    before = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(version_ts)) + f".{int(version_ts * 1e6) % 1_000_000:06d}"
    for table, column, ids in targets:
        for start in range(0, len(ids), _CHUNK):
            params = Params(p=project_id)
            sql = (
                f"DELETE FROM {table} WHERE project_id = {{p:String}} "
                f"AND {column} IN {params.bind(ids[start : start + _CHUNK], STRINGS)} "
                f"AND is_deleted = 0 AND event_ts < {params.bind(before, TIME)}"
            )
            try:
                await ch.command(sql, params.values)
            except StoreError as exc:
                log.warning("purge of %s rows in %s failed (they stay hidden): %s", len(ids), table, exc)
                return


async def wait_for_purges() -> None:
    """Wait for background purges started so far (tests; graceful shutdown)."""
    if _purges:
        await asyncio.gather(*list(_purges), return_exceptions=True)
