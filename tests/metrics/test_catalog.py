"""Every dimension and measure of every view runs, and grouping by any (non-fan-out, non-exploded)
dimension partitions the rows: the group counts add up to the ungrouped count."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from spyglass.query.metrics import VIEWS
from spyglass.query.metrics.compiler import AGGREGATIONS
from tests.harness import Harness
from tests.metrics.conftest import Loaded, metrics
from tests.metrics.data import FROM, TO

WINDOW = {"fromTimestamp": FROM, "toTimestamp": TO}

VIEW_CASES = [(version, name) for version, views in VIEWS.items() for name in views]
VIEW_IDS = [f"{v}-{n}" for v, n in VIEW_CASES]


async def _count(spyglass: Harness, loaded: Loaded, version: str, view: str, **extra: Any) -> list[dict[str, Any]]:
    query = {"view": view, "metrics": [{"measure": "count", "aggregation": "count"}], **WINDOW, **extra}
    return await metrics(spyglass, loaded.keys, query, version)


async def _check_dimension(
    spyglass: Harness, loaded: Loaded, version: str, view: str, dimension: str, total: int
) -> None:
    rows = await _count(spyglass, loaded, version, view, dimensions=[{"field": dimension}], config={"row_limit": 1000})
    assert rows and all(set(r) == {dimension, "count_count"} for r in rows), dimension
    grouped = sum(int(r["count_count"]) for r in rows)
    definition = VIEWS[version][view].dimensions[dimension]  # type: ignore[index]
    if definition.fanout:
        assert grouped >= total, dimension
    elif not definition.explode:  # exploded tool names: checked value by value in test_metrics_tools
        assert grouped == total, dimension
    # The same column as a filter: rows with and without a value split the total.
    present = {"column": dimension, "operator": "is not null", "value": None, "type": "null"}
    split = 0
    for spec in (present, {**present, "operator": "is null"}):
        split += int((await _count(spyglass, loaded, version, view, filters=[spec]))[0]["count_count"])
    assert split == total, dimension


@pytest.mark.parametrize(("version", "view"), VIEW_CASES, ids=VIEW_IDS)
async def test_grouping_by_each_dimension(spyglass: Harness, loaded: Loaded, version: str, view: str) -> None:
    total = int((await _count(spyglass, loaded, version, view))[0]["count_count"])
    assert total > 0
    definition = VIEWS[version][view]  # type: ignore[index]
    dimensions = [d for d in definition.dimensions if d not in definition.high_cardinality]
    await asyncio.gather(*(_check_dimension(spyglass, loaded, version, view, d, total) for d in dimensions))


async def _check_measure(spyglass: Harness, loaded: Loaded, version: str, view: str, m: str) -> None:
    query: dict[str, Any] = {
        "view": view,
        "metrics": [{"measure": m, "aggregation": a} for a in AGGREGATIONS],
        "timeDimension": {"granularity": "week"},
        **WINDOW,
    }
    rows = await metrics(spyglass, loaded.keys, query, version)
    assert [r["time_dimension"] for r in rows] == ["2025-03-10"]  # a Monday; the whole window in one week
    row = rows[0]
    assert row[f"count_{m}"].isdigit()
    assert isinstance(row[f"histogram_{m}"], list)
    if row[f"count_{m}"] != "0":
        assert row[f"min_{m}"] is not None and row[f"max_{m}"] is not None
        assert float(row[f"min_{m}"]) <= row[f"p50_{m}"] <= float(row[f"max_{m}"])


@pytest.mark.parametrize(("version", "view"), VIEW_CASES, ids=VIEW_IDS)
async def test_every_measure_with_every_aggregation(spyglass: Harness, loaded: Loaded, version: str, view: str) -> None:
    measures = VIEWS[version][view].measures  # type: ignore[index]
    await asyncio.gather(*(_check_measure(spyglass, loaded, version, view, m) for m in measures))
