"""Metrics over versioned observations at the edges of the requested range, and token totals
read from the materialized `usage_total` column (migration 0003)."""

from __future__ import annotations

from datetime import UTC, datetime

from spyglass.collector.worker.encode import json_each_row
from spyglass.store.clickhouse.rows import ObservationRow
from tests.harness import Harness
from tests.metrics.conftest import metrics

# The range starts at 09:00 on D; every row lies on D (one UTC day, so FINAL may merge them).
DAY = datetime(2025, 3, 10, tzinfo=UTC).timestamp()
HOUR = 3600.0
WINDOW = {"fromTimestamp": "2025-03-10T09:00:00Z", "toTimestamp": "2025-03-11T00:00:00Z"}
QUERY = {
    "view": "observations",
    "dimensions": [{"field": "name"}],
    "metrics": [
        {"measure": "count", "aggregation": "count"},
        {"measure": "totalTokens", "aggregation": "sum"},
    ],
    **WINDOW,
}


def obs(pid: str, oid: str, *, start_h: float, version: float, **fields: object) -> ObservationRow:
    return ObservationRow(
        id=oid,
        trace_id=f"t-{oid}",
        project_id=pid,
        type="GENERATION",
        start_time=DAY + start_h * HOUR,
        event_ts=DAY + version,
        **fields,  # type: ignore[arg-type]
    )


async def test_newest_version_decides_membership_at_the_range_start(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    pid = keys.project_id
    rows = [
        # Older version inside the range, newest moved before it (same day): not counted.
        obs(pid, "moved-out", start_h=10, version=1, name="a", usage_details={"total": 5}),
        obs(pid, "moved-out", start_h=8, version=2, name="a", usage_details={"total": 5}),
        # Older version before the range, newest inside: counted once.
        obs(pid, "moved-in", start_h=8, version=1, name="a", usage_details={"total": 7}),
        obs(pid, "moved-in", start_h=10, version=2, name="a", usage_details={"total": 7}),
        # Updated inside the range: the newest usage counts, once.
        obs(pid, "updated", start_h=12, version=1, name="a", usage_details={"total": 1}),
        obs(pid, "updated", start_h=12, version=2, name="a", usage_details={"total": 100}),
        # Deleted inside the range: not counted.
        obs(pid, "deleted", start_h=13, version=1, name="a", usage_details={"total": 1000}),
        obs(pid, "deleted", start_h=13, version=2, name="a", usage_details={"total": 1000}, is_deleted=1),
        # Before the range on the same day: not counted.
        obs(pid, "early", start_h=8.99, version=1, name="a", usage_details={"total": 10000}),
    ]
    await spyglass.stores.ch.insert_json("observations", json_each_row(rows))
    assert await metrics(spyglass, keys, QUERY) == [{"name": "a", "count_count": "2", "sum_totalTokens": "107"}]


async def test_total_tokens_without_a_total_entry_sum_the_entries(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    pid = keys.project_id
    rows = [
        obs(pid, "with-total", start_h=10, version=1, name="a", usage_details={"input": 3, "output": 4, "total": 9}),
        obs(pid, "no-total", start_h=10, version=1, name="b", usage_details={"input": 3, "output": 4}),
        obs(pid, "no-usage", start_h=10, version=1, name="c"),
    ]
    await spyglass.stores.ch.insert_json("observations", json_each_row(rows))
    got = {r["name"]: r["sum_totalTokens"] for r in await metrics(spyglass, keys, QUERY)}
    assert got == {"a": "9", "b": "7", "c": "0"}
