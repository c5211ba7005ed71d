"""Rows written straight into ClickHouse, shaped as the ingestion worker writes them."""

from __future__ import annotations

import itertools
import time
from typing import Any

import msgspec

from spyglass.collector.worker.encode import json_each_row
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.rows import ObservationRow, ScoreRow, TraceRow

# 2026-01-01T00:00:00Z: fixed, so ordering and time filters are deterministic.
BASE = 1_767_225_600.0
_seq = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns()}-{next(_seq)}"


def iso(offset: float) -> str:
    """The ISO form the API renders for BASE + offset (milliseconds)."""
    moment = time.gmtime(BASE + offset)
    millis = round((BASE + offset) * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", moment) + f".{millis:03d}Z"


def trace(project_id: str, id: str, *, at: float = 0.0, **fields: Any) -> TraceRow:
    now = time.time()
    base: dict[str, Any] = {"created_at": BASE + at, "updated_at": BASE + at, "event_ts": now}
    base.update(fields)
    return TraceRow(id=id, project_id=project_id, timestamp=BASE + at, **base)


def observation(
    project_id: str, id: str, trace_id: str, *, start: float = 0.0, end: float | None = None, **fields: Any
) -> ObservationRow:
    now = time.time()
    base: dict[str, Any] = {"created_at": BASE + start, "updated_at": BASE + start, "event_ts": now}
    base.update(fields)
    return ObservationRow(
        id=id,
        trace_id=trace_id,
        project_id=project_id,
        start_time=BASE + start,
        end_time=None if end is None else BASE + end,
        **base,
    )


def score(project_id: str, id: str, name: str, *, at: float = 0.0, **fields: Any) -> ScoreRow:
    now = time.time()
    base: dict[str, Any] = {"created_at": BASE + at, "updated_at": BASE + at, "event_ts": now}
    base.update(fields)
    return ScoreRow(id=id, project_id=project_id, timestamp=BASE + at, name=name, **base)


async def insert(ch: ClickHouse, *rows: msgspec.Struct) -> None:
    tables = {TraceRow: "traces", ObservationRow: "observations", ScoreRow: "scores"}
    for kind, table in tables.items():
        batch = [r for r in rows if isinstance(r, kind)]
        if batch:
            await ch.insert_json(table, json_each_row(batch))
