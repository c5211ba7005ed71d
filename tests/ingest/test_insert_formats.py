"""Rows written as JSON arrays (JSONCompactEachRow) store exactly what JSON objects stored."""

from __future__ import annotations

import uuid

import msgspec

from spyglass.collector.worker.encode import decode_rows, json_each_row
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.rows import ObservationRow


def _rows(project: str, prefix: str) -> list[ObservationRow]:
    rows = []
    for i in range(3):
        row = ObservationRow(id=f"{prefix}{i}", trace_id="t" * 32, project_id=project)
        row.type = "GENERATION"
        row.start_time = 1_790_000_000.123456 + i
        row.end_time = 1_790_000_001.5
        row.metadata = {"tenant": 'a "quoted"\nvalue', "n": "1"}
        row.input = '[{"role": "user", "content": "é ✓"}]'
        row.usage_details = {"input": 10, "total": 12}
        row.cost_details = {"total": 0.0012}
        row.total_cost = 0.0012
        row.tool_calls = ['{"id": "c1"}']
        row.created_at = row.updated_at = row.event_ts = 1_790_000_100.5
        rows.append(row)
    return rows


async def _stored(ch: ClickHouse, project: str, prefix: str) -> list[str]:
    found = await ch.rows(
        "SELECT * EXCEPT (id) FROM observations"
        " WHERE project_id = {p:String} AND startsWith(id, {x:String}) ORDER BY id",
        {"p": project, "x": prefix},
    )
    return [msgspec.json.encode(row).decode() for row in found]


async def test_arrays_objects_and_both_in_one_insert_store_the_same_rows(ch: ClickHouse) -> None:
    project = f"formats-{uuid.uuid4().hex[:8]}"
    objects = b"".join(msgspec.json.encode(row) + b"\n" for row in _rows(project, "o"))
    arrays = json_each_row(_rows(project, "a"))
    assert arrays.startswith(b"[")
    mixed = _rows(project, "m")
    await ch.insert_json("observations", objects)
    await ch.insert_json("observations", arrays)
    await ch.insert_json("observations", json_each_row(mixed[:2]) + msgspec.json.encode(mixed[2]) + b"\n")
    stored = [await _stored(ch, project, prefix) for prefix in "oam"]
    assert len(stored[0]) == 3
    assert stored[0] == stored[1] == stored[2]


def test_array_rows_decode_back() -> None:
    rows = _rows("p", "d")
    assert decode_rows(json_each_row(rows)) == rows
    assert decode_rows(b"") == []
