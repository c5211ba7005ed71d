"""GET /api/public/v2/metrics through the Langfuse SDK's own API client (so responses provably
parse), against the seeded rows."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

import pytest
from langfuse.api.client import LangfuseAPI
from langfuse.api.commons.errors.error import Error as SdkBadRequest
from langfuse.api.metrics.types.metrics_v2response import MetricsV2Response

from spyglass.collector.worker.encode import json_each_row
from spyglass.store.clickhouse.rows import ObservationRow
from tests.harness import Harness, ProjectKeys
from tests.metrics.conftest import Loaded, metrics_error
from tests.metrics.data import BASE_MS, FROM, TO

WINDOW = {"fromTimestamp": FROM, "toTimestamp": TO}


def sdk_metrics(spyglass: Harness, keys: ProjectKeys, query: dict[str, Any]) -> MetricsV2Response:
    api = LangfuseAPI(base_url=spyglass.url, username=keys.public_key, password=keys.secret_key, timeout=30)
    return api.metrics.metrics(query=json.dumps(query))


async def test_cost_by_model_through_the_sdk(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    query = {
        "view": "observations",
        "dimensions": [{"field": "providedModelName"}],
        "metrics": [{"measure": "totalCost", "aggregation": "sum"}, {"measure": "count", "aggregation": "count"}],
        "filters": [{"column": "type", "operator": "=", "value": "GENERATION", "type": "string"}],
        "orderBy": [{"field": "sum_totalCost", "direction": "desc"}],
        **WINDOW,
    }
    result = await asyncio.to_thread(sdk_metrics, spyglass, loaded.keys, query)
    assert isinstance(result, MetricsV2Response)
    expected: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for o in ds.live_observations():
        if o.row.type == "GENERATION":
            assert o.row.provided_model_name is not None
            expected[o.row.provided_model_name] += o.row.total_cost or 0.0
            counts[o.row.provided_model_name] += 1
    assert [r["providedModelName"] for r in result.data] == sorted(expected, key=expected.__getitem__, reverse=True)
    for row in result.data:
        assert row["sum_totalCost"] == pytest.approx(expected[row["providedModelName"]], rel=1e-9)
        assert row["count_count"] == str(counts[row["providedModelName"]])


async def test_v2_observation_dimensions(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    query = {
        "view": "observations",
        "dimensions": [{"field": "isRootObservation"}, {"field": "release"}],
        "metrics": [{"measure": "count", "aggregation": "count"}],
        **WINDOW,
    }
    result = await asyncio.to_thread(sdk_metrics, spyglass, loaded.keys, query)
    expected: dict[tuple[bool, str | None], int] = defaultdict(int)
    for o in ds.live_observations():
        expected[(o.row.parent_observation_id is None, ds.traces[o.row.trace_id].release)] += 1
    assert {(r["isRootObservation"], r["release"]): int(r["count_count"]) for r in result.data} == expected


async def test_boolean_scores_view(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    query = {
        "view": "scores-boolean",
        "dimensions": [{"field": "booleanValue"}],
        "metrics": [{"measure": "count", "aggregation": "count"}, {"measure": "value", "aggregation": "avg"}],
        **WINDOW,
    }
    result = await asyncio.to_thread(sdk_metrics, spyglass, loaded.keys, query)
    expected: dict[bool, int] = defaultdict(int)
    for s in ds.live_scores():
        if s.data_type == "BOOLEAN":
            expected[s.value == 1.0] += 1
    assert {r["booleanValue"]: int(r["count_count"]) for r in result.data} == expected
    assert {r["booleanValue"]: r["avg_value"] for r in result.data} == {b: float(b) for b in expected}


async def test_high_cardinality_dimension_is_refused_but_filtering_works(spyglass: Harness, loaded: Loaded) -> None:
    query = {
        "view": "observations",
        "dimensions": [{"field": "traceId"}],
        "metrics": [{"measure": "count", "aggregation": "count"}],
        **WINDOW,
    }
    with pytest.raises(SdkBadRequest) as info:
        await asyncio.to_thread(sdk_metrics, spyglass, loaded.keys, query)
    assert info.value.status_code == 400
    assert "traceId" in info.value.body["message"]

    filtered = {
        "view": "observations",
        "metrics": [{"measure": "count", "aggregation": "count"}],
        "filters": [{"column": "traceId", "operator": "=", "value": "trace-002", "type": "string"}],
        **WINDOW,
    }
    result = await asyncio.to_thread(sdk_metrics, spyglass, loaded.keys, filtered)
    assert result.data == [{"count_count": str(len(loaded.data.observations_of("trace-002")))}]


@pytest.mark.parametrize("field", ["id", "userId", "sessionId", "parentObservationId"])
async def test_every_high_cardinality_observation_dimension(spyglass: Harness, loaded: Loaded, field: str) -> None:
    status, message = await metrics_error(
        spyglass,
        loaded.keys,
        {
            "view": "observations",
            "dimensions": [{"field": field}],
            "metrics": [{"measure": "count", "aggregation": "count"}],
            **WINDOW,
        },
        version="v2",
    )
    assert status == 400 and f"'{field}'" in message


async def test_traces_view_is_v1_only(spyglass: Harness, loaded: Loaded) -> None:
    status, message = await metrics_error(
        spyglass,
        loaded.keys,
        {"view": "traces", "metrics": [{"measure": "count", "aggregation": "count"}], **WINDOW},
        "v2",
    )
    assert status == 400 and "'traces'" in message and "v2" in message


async def test_default_row_limit_is_100(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    rows = [
        ObservationRow(
            id=f"o{i}",
            trace_id="t",
            project_id=keys.project_id,
            name=f"step-{i:03d}",
            start_time=(BASE_MS + i) / 1000,
            event_ts=1.0,
        )
        for i in range(130)
    ]
    await spyglass.stores.ch.insert_json("observations", json_each_row(rows))
    query: dict[str, Any] = {
        "view": "observations",
        "dimensions": [{"field": "name"}],
        "metrics": [{"measure": "count", "aggregation": "count"}],
        "orderBy": [{"field": "name", "direction": "asc"}],
        **WINDOW,
    }
    default = await asyncio.to_thread(sdk_metrics, spyglass, keys, query)
    assert [r["name"] for r in default.data] == [f"step-{i:03d}" for i in range(100)]
    bigger = await asyncio.to_thread(sdk_metrics, spyglass, keys, {**query, "config": {"row_limit": 1000}})
    assert len(bigger.data) == 130
    status, message = await metrics_error(spyglass, keys, {**query, "config": {"row_limit": 5000}}, "v2")
    assert status == 400 and "row_limit" in message


async def test_boolean_and_number_filters(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    roots = await asyncio.to_thread(
        sdk_metrics,
        spyglass,
        loaded.keys,
        {
            "view": "observations",
            "metrics": [{"measure": "count", "aggregation": "count"}],
            "filters": [{"column": "isRootObservation", "operator": "=", "value": True, "type": "boolean"}],
            **WINDOW,
        },
    )
    expected_roots = sum(1 for o in ds.live_observations() if o.row.parent_observation_id is None)
    assert 0 < expected_roots < len(ds.live_observations())
    assert roots.data == [{"count_count": str(expected_roots)}]

    high = await asyncio.to_thread(
        sdk_metrics,
        spyglass,
        loaded.keys,
        {
            "view": "scores-numeric",
            "metrics": [{"measure": "value", "aggregation": "sum"}, {"measure": "count", "aggregation": "count"}],
            "filters": [
                {"column": "value", "operator": ">=", "value": 0.5, "type": "number"},
                {"column": "dataType", "operator": "=", "value": "NUMERIC", "type": "string"},
            ],
            **WINDOW,
        },
    )
    chosen = [s.value for s in ds.live_scores() if s.data_type == "NUMERIC" and s.value >= 0.5]
    assert chosen
    assert high.data[0]["count_count"] == str(len(chosen))
    assert high.data[0]["sum_value"] == pytest.approx(sum(chosen))
