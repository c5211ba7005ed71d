"""Scores of experiments and experiment items, read from ClickHouse in the v3 score shape
(`dataType` + typed `value` + `subject`), which the experiments endpoints embed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spyglass.query.reads.values import iso, metadata
from spyglass.store.clickhouse.client import ClickHouse

_COLUMNS = (
    "id, project_id, name, value, string_value, long_string_value, data_type, source, environment, comment, "
    "metadata, author_user_id, config_id, queue_id, trace_id, observation_id, session_id, dataset_run_id, "
    "toUnixTimestamp64Micro(timestamp) AS ts, toUnixTimestamp64Micro(created_at) AS created, "
    "toUnixTimestamp64Micro(updated_at) AS updated, is_deleted"
)


def _value(row: dict[str, Any]) -> Any:
    kind = row["data_type"]
    if kind == "NUMERIC":
        return float(row["value"])
    if kind == "BOOLEAN":
        return float(row["value"]) != 0.0
    return row["long_string_value"] or row["string_value"] or ""


def _subject(row: dict[str, Any]) -> dict[str, Any] | None:
    if row["observation_id"]:
        return {"kind": "observation", "id": row["observation_id"], "traceId": row["trace_id"]}
    if row["trace_id"]:
        return {"kind": "trace", "id": row["trace_id"]}
    if row["session_id"]:
        return {"kind": "session", "id": row["session_id"]}
    if row["dataset_run_id"]:
        return {"kind": "experiment", "id": row["dataset_run_id"]}
    return None


def score_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "projectId": row["project_id"],
        "name": row["name"],
        "dataType": row["data_type"],
        "value": _value(row),
        "source": row["source"],
        "timestamp": iso(row["ts"]),
        "environment": row["environment"],
        "createdAt": iso(row["created"]),
        "updatedAt": iso(row["updated"]),
        "comment": row["comment"],
        "configId": row["config_id"],
        "metadata": metadata(row["metadata"]),
        "authorUserId": row["author_user_id"],
        "queueId": row["queue_id"],
        "subject": _subject(row),
    }


async def scores_by(
    ch: ClickHouse, project_id: str, column: str, keys: Sequence[str], per_key: int
) -> dict[str, list[dict[str, Any]]]:
    """Live scores whose `column` (trace_id or dataset_run_id) is one of `keys`, newest first,
    at most `per_key` each."""
    if not keys or column not in ("trace_id", "dataset_run_id"):
        return {}
    rows = await ch.rows(
        f"""
        SELECT * FROM (
            SELECT {_COLUMNS} FROM scores
            WHERE project_id = {{p:String}} AND {column} IN {{keys:Array(String)}}
            ORDER BY event_ts DESC LIMIT 1 BY id
        ) WHERE is_deleted = 0
        ORDER BY ts DESC, id
        LIMIT {{n:UInt32}} BY {column}
        """,
        {"p": project_id, "keys": list(keys), "n": per_key},
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row[column], []).append(score_json(row))
    return out
