"""Scores: selection, queries and the three response generations (v1 in traces, v2, v3)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from spyglass.query.reads import filters, paging
from spyglass.query.reads.filters import MAP_KIND, NUMBER_KIND, STRING_KIND, TIME_KIND, Column
from spyglass.query.reads.live import (
    PROJECT,
    exact_window,
    get_live,
    live_picked,
    live_trace_ids,
    newest_live,
    time_window,
)
from spyglass.query.reads.params import Page
from spyglass.query.reads.sql import FLOAT, INT, STRING, STRINGS, Params
from spyglass.query.reads.values import iso, metadata, micros_of, time_select
from spyglass.store.clickhouse.client import ClickHouse

DATA_TYPES = ("NUMERIC", "BOOLEAN", "CATEGORICAL", "TEXT", "CORRECTION")
SOURCES = ("API", "ANNOTATION", "EVAL")
OPERATORS = {"<": "<", ">": ">", "<=": "<=", ">=": ">=", "=": "=", "!=": "!=", "<>": "!="}

FULL_COLUMNS = ", ".join(
    [
        "id",
        "project_id",
        time_select("timestamp", "ts_us"),
        "environment",
        "trace_id",
        "observation_id",
        "session_id",
        "dataset_run_id",
        "name",
        "value",
        "source",
        "comment",
        "metadata",
        "author_user_id",
        "config_id",
        "data_type",
        "string_value",
        "long_string_value",
        "queue_id",
        "execution_trace_id",
        time_select("created_at", "created_us"),
        time_select("updated_at", "updated_us"),
        "is_deleted",
    ]
)

_NARROW = (
    "id, timestamp, name, value, source, data_type, string_value, config_id, session_id, dataset_run_id, "
    "trace_id, observation_id, queue_id, environment, author_user_id, is_deleted"
)

FILTER_COLUMNS: dict[str, Column] = {
    "id": Column("id", STRING_KIND),
    "name": Column("name", STRING_KIND),
    "source": Column("source", STRING_KIND),
    "dataType": Column("data_type", STRING_KIND),
    "value": Column("value", NUMBER_KIND),
    "stringValue": Column("string_value", STRING_KIND),
    "timestamp": Column("timestamp", TIME_KIND),
    "environment": Column("environment", STRING_KIND),
    "traceId": Column("trace_id", STRING_KIND),
    "observationId": Column("observation_id", STRING_KIND),
    "sessionId": Column("session_id", STRING_KIND),
    "datasetRunId": Column("dataset_run_id", STRING_KIND),
    "configId": Column("config_id", STRING_KIND),
    "queueId": Column("queue_id", STRING_KIND),
    "authorUserId": Column("author_user_id", STRING_KIND),
    "metadata": Column("metadata", MAP_KIND),
    "userId": Column("user_id", STRING_KIND, on_trace=True),
    "traceTags": Column("tags", filters.ARRAY_KIND, on_trace=True),
    "traceName": Column("name", STRING_KIND, on_trace=True),
}


class ScoreSelection(msgspec.Struct, kw_only=True):
    params: Params
    conditions: list[str] = []
    trace_conditions: list[str] = []
    start: datetime | None = None
    end: datetime | None = None
    needs_metadata: bool = False

    def equals(self, column: str, value: str | None) -> None:
        if value is not None:
            self.conditions.append(f"{column} = {self.params.bind(value, STRING)}")

    def any_of(self, column: str, values: list[str]) -> None:
        if values:
            self.conditions.append(f"{column} IN {self.params.bind(values, STRINGS)}")

    def window(self, start: datetime | None, end: datetime | None) -> None:
        self.start, self.end = start, end
        self.conditions.extend(exact_window("timestamp", self.params, start, end))

    def compare_value(self, operator: str, value: float) -> None:
        self.conditions.append(f"value {OPERATORS[operator]} {self.params.bind(value, FLOAT)}")

    def add_filter(self, raw: str | None) -> None:
        conditions = filters.parse(raw)
        if not conditions:
            return
        compiled = filters.compile_filters(conditions, FILTER_COLUMNS, self.params)
        self.conditions.extend(compiled.row)
        self.trace_conditions.extend(compiled.trace)
        self.needs_metadata = self.needs_metadata or any(c.get("column") == "metadata" for c in conditions)


def selection(project_id: str) -> ScoreSelection:
    return ScoreSelection(params=Params(p=project_id), conditions=[], trace_conditions=[])


def listing(
    sel: ScoreSelection,
    *,
    extra_direct: list[str] | None = None,
    extra_conditions: list[str] | None = None,
    anchor_us: int | None = None,
) -> paging.Listing:
    conditions = list(sel.conditions)
    if sel.trace_conditions:
        conditions.append(f"trace_id IN ({live_trace_ids(sel.trace_conditions)})")
    end_us = micros_of(sel.end) if sel.end else None
    bounds = [v for v in (anchor_us, end_us) if v is not None]
    return paging.Listing(
        table="scores",
        time_column="timestamp",
        params=sel.params,
        direct=[PROJECT, *time_window("timestamp", sel.params, sel.start, sel.end), *(extra_direct or [])],
        conditions=[*conditions, *(extra_conditions or [])],
        narrow=_NARROW + (", metadata" if sel.needs_metadata else ""),
        picked="id, toUnixTimestamp64Micro(timestamp) AS ts_us",
        order="timestamp DESC, id DESC",
        windowed=True,
        anchor_us=min(bounds) if bounds else None,
        floor_us=micros_of(sel.start) if sel.start else None,
    )


async def page(ch: ClickHouse, sel: ScoreSelection, pg: Page) -> tuple[list[dict[str, Any]], int]:
    spec = listing(sel)
    picked, total = await asyncio.gather(paging.page(ch, spec, pg.offset, pg.limit), paging.count(ch, spec))
    return await fetch_rows(ch, sel.params.values["p"], picked), total


async def page_after(
    ch: ClickHouse, sel: ScoreSelection, limit: int, cursor: tuple[int, str] | None
) -> list[dict[str, Any]]:
    """Up to `limit + 1` scores, newest first, after `cursor` (timestamp micros, id)."""
    p = sel.params
    direct: list[str] = []
    after: list[str] = []
    anchor = None
    if cursor is not None:
        bound = p.bind(cursor[0], INT)
        direct.append(f"timestamp <= fromUnixTimestamp64Micro({bound}, 'UTC')")
        after.append(f"(toUnixTimestamp64Micro(timestamp), id) < ({bound}, {p.bind(cursor[1], STRING)})")
        anchor = cursor[0]
    picked = await paging.top(
        ch, listing(sel, extra_direct=direct, extra_conditions=after, anchor_us=anchor), limit + 1
    )
    return await fetch_rows(ch, p.values["p"], picked[: limit + 1])


async def fetch_rows(ch: ClickHouse, project_id: str, picked: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return await live_picked(ch, "scores", FULL_COLUMNS, project_id, picked, time_column="timestamp", us_key="ts_us")


async def get_one(ch: ClickHouse, project_id: str, score_id: str) -> dict[str, Any] | None:
    return await get_live(ch, "scores", FULL_COLUMNS, project_id, score_id)


async def for_trace(ch: ClickHouse, project_id: str, trace_id: str) -> list[dict[str, Any]]:
    """Every live score of a trace, newest first."""
    params = Params(p=project_id)
    sql = (
        f"SELECT {FULL_COLUMNS}, toUnixTimestamp64Micro(event_ts) AS version_us FROM scores "
        f"WHERE {PROJECT} AND trace_id = {params.bind(trace_id, STRING)}"
    )
    rows = newest_live(await ch.rows(sql, params.values))
    return sorted(rows, key=lambda r: (-int(r["ts_us"]), r["id"]))


# -- shapes ----------------------------------------------------------------------------------


def _string_value(r: Mapping[str, Any]) -> str | None:
    if r["data_type"] == "CORRECTION":
        return r.get("long_string_value") or ""
    return r.get("string_value")


def score(r: Mapping[str, Any]) -> dict[str, Any]:
    """A `Score` (v2 and v1 list/get), discriminated by `dataType`."""
    data_type = r["data_type"]
    out: dict[str, Any] = {
        "id": r["id"],
        "projectId": r["project_id"],
        "dataType": data_type,
        "traceId": r.get("trace_id"),
        "sessionId": r.get("session_id"),
        "observationId": r.get("observation_id"),
        "datasetRunId": r.get("dataset_run_id"),
        "name": r["name"],
        "source": r["source"],
        "timestamp": iso(r["ts_us"]),
        "createdAt": iso(r.get("created_us")),
        "updatedAt": iso(r.get("updated_us")),
        "authorUserId": r.get("author_user_id"),
        "comment": r.get("comment"),
        "metadata": metadata(r.get("metadata")),
        "configId": r.get("config_id"),
        "queueId": r.get("queue_id"),
        "environment": r["environment"],
    }
    if data_type != "TEXT":
        out["value"] = float(r["value"])
    if data_type != "NUMERIC":
        out["stringValue"] = _string_value(r) or ""
    return out


def trace_data(t: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "userId": t.get("user_id"),
        "tags": t.get("tags") or [],
        "environment": t.get("environment"),
        "sessionId": t.get("session_id"),
    }


V1_TYPES = frozenset({"NUMERIC", "CATEGORICAL", "BOOLEAN"})


def score_v1(r: Mapping[str, Any]) -> dict[str, Any] | None:
    """A trace's score in the legacy shape (traceId required, three data types); None for scores
    that shape cannot carry, which upstream also leaves out of a trace's `scores`."""
    if r["data_type"] not in V1_TYPES or not r.get("trace_id"):
        return None
    return score(r)


V3_GROUPS = ("details", "subject", "annotation")


def score_v3(r: Mapping[str, Any], groups: set[str]) -> dict[str, Any]:
    data_type = r["data_type"]
    value: Any
    if data_type == "NUMERIC":
        value = float(r["value"])
    elif data_type == "BOOLEAN":
        value = float(r["value"]) == 1.0
    else:
        value = _string_value(r) or ""
    out: dict[str, Any] = {
        "id": r["id"],
        "projectId": r["project_id"],
        "name": r["name"],
        "value": value,
        "dataType": data_type,
        "source": r["source"],
        "timestamp": iso(r["ts_us"]),
        "environment": r["environment"],
        "createdAt": iso(r.get("created_us")),
        "updatedAt": iso(r.get("updated_us")),
    }
    if "details" in groups:
        out.update(comment=r.get("comment"), configId=r.get("config_id"), metadata=metadata(r.get("metadata")))
    if "subject" in groups:
        out["subject"] = subject(r)
    if "annotation" in groups:
        out.update(authorUserId=r.get("author_user_id"), queueId=r.get("queue_id"))
    return out


def subject(r: Mapping[str, Any]) -> dict[str, Any] | None:
    if r.get("observation_id"):
        return {"kind": "observation", "id": r["observation_id"], "traceId": r.get("trace_id")}
    if r.get("trace_id"):
        return {"kind": "trace", "id": r["trace_id"]}
    if r.get("session_id"):
        return {"kind": "session", "id": r["session_id"]}
    if r.get("dataset_run_id"):
        return {"kind": "experiment", "id": r["dataset_run_id"]}
    return None
