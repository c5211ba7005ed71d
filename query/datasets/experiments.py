"""GET /api/public/experiments and /experiment-items: dataset runs (and local-data experiments)
seen as experiments, cursor-paged by time.

Runs and run items come from PostgreSQL; what happened in each item (level, times, input,
output, metadata) comes from its root observation in ClickHouse, and scores from the scores
table (run-level scores by `dataset_run_id`, item scores by trace). An item whose spans have
not arrived yet (REST-linked before export) still lists, with the times of its link.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from spyglass.collector.json_depth import check_depth
from spyglass.collector.time_range import in_range
from spyglass.query.datasets.scores import scores_by
from spyglass.query.reads.params import invalid
from spyglass.query.reads.values import iso, iso_dt, json_value, metadata
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.postgres.datasets import ExperimentItemRow, ExperimentsRepo

EXPERIMENT_FIELDS = ("core", "metadata", "scores")
ITEM_FIELDS = ("core", "dataset", "io", "metadata", "itemMetadata", "experimentMetadata", "scores")


class _Cursor(msgspec.Struct):
    v: int
    t: datetime
    id: str


def encode_cursor(at: datetime, row_id: str) -> str:
    raw = msgspec.json.encode(_Cursor(1, at, row_id))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None) -> tuple[datetime, str] | None:
    if not text:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        check_depth(raw)  # unknown keys are skipped recursively
        cursor = msgspec.json.decode(raw, type=_Cursor)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise invalid("cursor", "not a cursor returned by this endpoint") from None
    if cursor.v != 1:
        raise invalid("cursor", f"unsupported cursor version {cursor.v}")
    if not in_range(cursor.t):
        raise invalid("cursor", "not a cursor returned by this endpoint")
    return cursor.t, cursor.id


def _dict_or_none(value: Any) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    return {"value": value}


class ExperimentFilter(msgspec.Struct, kw_only=True):
    since: datetime
    until: datetime | None = None
    ids: list[str] = []
    names: list[str] = []
    item_ids: list[str] = []
    dataset_ids: list[str] = []
    cursor: tuple[datetime, str] | None = None
    limit: int = 50
    score_limit: int = 50


async def list_experiments(
    pool: asyncpg.Pool, ch: ClickHouse, project_id: str, flt: ExperimentFilter, fields: set[str]
) -> dict[str, Any]:
    rows = await ExperimentsRepo(pool).list_experiments(
        project_id,
        since=flt.since,
        until=flt.until,
        ids=flt.ids,
        names=flt.names,
        dataset_ids=flt.dataset_ids,
        after=flt.cursor,
        limit=flt.limit + 1,
    )
    more = len(rows) > flt.limit
    rows = rows[: flt.limit]
    scores = (
        await scores_by(ch, project_id, "dataset_run_id", [r.id for r in rows], flt.score_limit)
        if "scores" in fields
        else {}
    )
    data = []
    for r in rows:
        entry: dict[str, Any] = {
            "id": r.id,
            "name": r.name,
            "description": r.description,
            "startTime": iso_dt(r.start_time),
            "endTime": iso_dt(r.end_time),
            "itemCount": r.item_count,
            "datasetId": r.dataset_id,
        }
        if "metadata" in fields:
            entry["metadata"] = _dict_or_none(r.metadata)
        if "scores" in fields:
            entry["scores"] = scores.get(r.id, [])
        data.append(entry)
    meta = {"cursor": encode_cursor(rows[-1].end_time, rows[-1].id)} if more and rows else {}
    return {"data": data, "meta": meta}


_OBSERVATION_COLUMNS = (
    "id, trace_id, level, environment, input, output, metadata, toUnixTimestamp64Micro(start_time) AS start, "
    "if(end_time IS NULL, NULL, toUnixTimestamp64Micro(end_time)) AS end, is_deleted"
)


async def _observations(ch: ClickHouse, project_id: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    rows = await ch.rows(
        f"""
        SELECT * FROM (
            SELECT {_OBSERVATION_COLUMNS} FROM observations
            WHERE project_id = {{p:String}} AND id IN {{ids:Array(String)}}
            ORDER BY event_ts DESC LIMIT 1 BY id
        ) WHERE is_deleted = 0
        """,
        {"p": project_id, "ids": list(ids)},
    )
    return {r["id"]: r for r in rows}


async def _dataset_items(pool: asyncpg.Pool, project_id: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    rows = await pool.fetch(
        "SELECT id, expected_output, metadata FROM dataset_items WHERE project_id = $1 AND id = ANY($2::text[])",
        project_id,
        list(ids),
    )
    return {r["id"]: dict(r) for r in rows}


async def list_experiment_items(
    pool: asyncpg.Pool, ch: ClickHouse, project_id: str, flt: ExperimentFilter, fields: set[str]
) -> dict[str, Any]:
    rows = await ExperimentsRepo(pool).list_experiment_items(
        project_id,
        since=flt.since,
        until=flt.until,
        run_ids=flt.ids,
        run_names=flt.names,
        item_ids=flt.item_ids,
        dataset_ids=flt.dataset_ids,
        after=flt.cursor,
        limit=flt.limit + 1,
    )
    more = len(rows) > flt.limit
    rows = rows[: flt.limit]
    observations = await _observations(ch, project_id, [r.item.observation_id for r in rows if r.item.observation_id])
    needs_items = fields & {"io", "itemMetadata"}
    linked = (
        await _dataset_items(pool, project_id, [r.item.dataset_item_id for r in rows if r.item.dataset_id])
        if needs_items
        else {}
    )
    scores = (
        await scores_by(ch, project_id, "trace_id", sorted({r.item.trace_id for r in rows}), flt.score_limit)
        if "scores" in fields
        else {}
    )
    data = [_item_json(r, observations, linked, scores, fields) for r in rows]
    meta = {"cursor": encode_cursor(rows[-1].at, rows[-1].item.id)} if more and rows else {}
    return {"data": data, "meta": meta}


def _item_json(
    row: ExperimentItemRow,
    observations: dict[str, dict[str, Any]],
    linked: dict[str, dict[str, Any]],
    scores: dict[str, list[dict[str, Any]]],
    fields: set[str],
) -> dict[str, Any]:
    item = row.item
    obs = observations.get(item.observation_id or "")
    start = iso(obs["start"]) if obs else iso_dt(item.start_time or item.created_at)
    end = (iso(obs["end"]) if obs and obs["end"] is not None else None) if obs else iso_dt(item.end_time)
    entry: dict[str, Any] = {
        # The root observation is the item's execution; before it arrives, the link is.
        "id": item.observation_id or item.id,
        "traceId": item.trace_id,
        "startTime": start,
        "endTime": end,
        "level": obs["level"] if obs else "DEFAULT",
        "environment": obs["environment"] if obs else item.environment,
        "experimentId": item.dataset_run_id,
        "experimentName": item.dataset_run_name,
        "experimentItemId": item.dataset_item_id,
    }
    if "dataset" in fields:
        entry["experimentDatasetId"] = item.dataset_id
        entry["experimentItemVersion"] = iso_dt(item.dataset_item_version)
    source = linked.get(item.dataset_item_id) if item.dataset_id else None
    if "io" in fields:
        entry["input"] = json_value(obs["input"]) if obs else None
        entry["output"] = json_value(obs["output"]) if obs else None
        entry["expectedOutput"] = (
            item.expected_output if item.expected_output is not None else (source or {}).get("expected_output")
        )
    if "metadata" in fields:
        entry["metadata"] = metadata(obs["metadata"]) if obs else None
    if "itemMetadata" in fields:
        value = item.item_metadata if item.item_metadata is not None else (source or {}).get("metadata")
        entry["experimentItemMetadata"] = _dict_or_none(value)
    if "experimentMetadata" in fields:
        entry["experimentMetadata"] = _dict_or_none(row.run_metadata)
        entry["experimentDescription"] = row.run_description
    if "scores" in fields:
        entry["scores"] = scores.get(item.trace_id, [])
    return entry
