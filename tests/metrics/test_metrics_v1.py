"""GET /api/public/metrics (v1) against seeded rows; every expectation is computed here from the
same rows the API reads."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from langfuse.api.metrics.types.metrics_v2response import MetricsV2Response

from spyglass.store.clickhouse.rows import TraceRow
from tests.harness import Harness
from tests.metrics.conftest import Loaded, get, metrics, metrics_error
from tests.metrics.data import BASE_MS, DAY_MS, FROM, TO, Dataset, Obs, quantile

WINDOW = {"fromTimestamp": FROM, "toTimestamp": TO}


def trace_latency(ds: Dataset, trace_id: str) -> int | None:
    obs = ds.observations_of(trace_id)
    ends = [o.end_ms for o in obs if o.end_ms is not None]
    if not obs or not ends:
        return None
    return max(ends) - min(o.start_ms for o in obs)


def trace_cost(ds: Dataset, trace_id: str) -> float:
    return sum(o.row.total_cost or 0.0 for o in ds.observations_of(trace_id))


def trace_tokens(ds: Dataset, trace_id: str) -> int:
    return sum(o.row.usage_details.get("total", 0) for o in ds.observations_of(trace_id))


def obs_latency(o: Obs) -> int | None:
    return None if o.end_ms is None else o.end_ms - o.start_ms


def by(rows: list[dict[str, Any]], *keys: str) -> dict[Any, dict[str, Any]]:
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in rows}


def approx(value: float | None) -> Any:
    return None if value is None else pytest.approx(value, rel=1e-9, abs=1e-9)


async def test_traces_grouped_by_name(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    rows = await metrics(
        spyglass,
        loaded.keys,
        {
            "view": "traces",
            "dimensions": [{"field": "name"}],
            "metrics": [
                {"measure": "count", "aggregation": "count"},
                {"measure": "totalCost", "aggregation": "sum"},
                {"measure": "totalTokens", "aggregation": "sum"},
                {"measure": "latency", "aggregation": "p50"},
                {"measure": "latency", "aggregation": "p95"},
                {"measure": "latency", "aggregation": "avg"},
                {"measure": "latency", "aggregation": "max"},
                {"measure": "observationsCount", "aggregation": "sum"},
                {"measure": "scoresCount", "aggregation": "sum"},
            ],
            **WINDOW,
        },
    )
    groups: dict[str, list[TraceRow]] = defaultdict(list)
    for t in ds.live_traces():
        groups[t.name].append(t)
    got = by(rows, "name")
    assert set(got) == set(groups)
    assert "renamed" in got  # the newer version of trace-000 wins
    for name, traces in groups.items():
        row = got[name]
        latencies = [v for t in traces if (v := trace_latency(ds, t.id)) is not None]
        # Counts are strings, as Langfuse returns ClickHouse's 64-bit integers.
        assert row["count_count"] == str(len(traces))
        assert row["sum_totalCost"] == approx(sum(trace_cost(ds, t.id) for t in traces))
        assert row["sum_totalTokens"] == str(sum(trace_tokens(ds, t.id) for t in traces))
        assert row["p50_latency"] == approx(quantile(latencies, 0.5))
        assert row["p95_latency"] == approx(quantile(latencies, 0.95))
        assert row["avg_latency"] == approx(sum(latencies) / len(latencies))
        assert row["max_latency"] == str(max(latencies))
        assert row["sum_observationsCount"] == str(sum(len(ds.observations_of(t.id)) for t in traces))
        assert row["sum_scoresCount"] == str(sum(len(ds.scores_of_trace(t.id)) for t in traces))
    # Rows are ordered by the first metric, descending.
    counts = [int(r["count_count"]) for r in rows]
    assert counts == sorted(counts, reverse=True)


async def test_response_parses_with_the_sdk_model(spyglass: Harness, loaded: Loaded) -> None:
    status, body = await get(
        spyglass,
        loaded.keys,
        "/api/public/metrics",
        query='{"view":"traces","metrics":[{"measure":"count","aggregation":"count"}],'
        f'"fromTimestamp":"{FROM}","toTimestamp":"{TO}"}}',
    )
    assert status == 200
    parsed = MetricsV2Response.model_validate(body)
    assert parsed.data == [{"count_count": str(len(loaded.data.live_traces()))}]


async def test_trace_filters_on_tags_metadata_and_environment(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    rows = await metrics(
        spyglass,
        loaded.keys,
        {
            "view": "traces",
            "dimensions": [{"field": "userId"}],
            "metrics": [{"measure": "count", "aggregation": "count"}, {"measure": "totalCost", "aggregation": "sum"}],
            "filters": [
                {"column": "tags", "operator": "any of", "value": ["a", "c"], "type": "arrayOptions"},
                {"column": "metadata", "operator": "=", "key": "tier", "value": "gold", "type": "stringObject"},
                {"column": "environment", "operator": "=", "value": "production", "type": "string"},
            ],
            **WINDOW,
        },
    )
    chosen = [
        t
        for t in ds.live_traces()
        if {"a", "c"} & set(t.tags) and t.metadata["tier"] == "gold" and t.environment == "production"
    ]
    assert chosen, "the seed should leave some traces matching"
    expected: dict[str | None, list[TraceRow]] = defaultdict(list)
    for t in chosen:
        expected[t.user_id].append(t)
    got = by(rows, "userId")
    assert set(got) == set(expected)
    for user, traces in expected.items():
        assert got[user]["count_count"] == str(len(traces))
        assert got[user]["sum_totalCost"] == approx(sum(trace_cost(ds, t.id) for t in traces))


def _input_tokens(o: Obs) -> int:
    return sum(v for k, v in o.row.usage_details.items() if "input" in k.lower())


async def test_observations_by_model_and_type(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    rows = await metrics(
        spyglass,
        loaded.keys,
        {
            "view": "observations",
            "dimensions": [{"field": "providedModelName"}, {"field": "type"}],
            "metrics": [
                {"measure": "count", "aggregation": "count"},
                {"measure": "totalCost", "aggregation": "sum"},
                {"measure": "totalTokens", "aggregation": "sum"},
                {"measure": "inputTokens", "aggregation": "sum"},
                {"measure": "outputTokens", "aggregation": "sum"},
                {"measure": "inputCost", "aggregation": "sum"},
                {"measure": "latency", "aggregation": "p95"},
                {"measure": "latency", "aggregation": "count"},
                {"measure": "timeToFirstToken", "aggregation": "avg"},
                {"measure": "countScores", "aggregation": "sum"},
            ],
            **WINDOW,
        },
    )
    groups: dict[tuple[str | None, str], list[Obs]] = defaultdict(list)
    for o in ds.live_observations():
        groups[(o.row.provided_model_name, o.row.type)].append(o)
    got = by(rows, "providedModelName", "type")
    assert set(got) == set(groups)
    assert ("llama", "GENERATION") in got  # includes the generation whose model was corrected
    for key, obs in groups.items():
        row = got[key]
        latencies = [v for o in obs if (v := obs_latency(o)) is not None]
        ttft = [o.first_token_ms - o.start_ms for o in obs if o.first_token_ms is not None]
        assert row["count_count"] == str(len(obs))
        assert row["sum_totalTokens"] == str(sum(o.row.usage_details.get("total", 0) for o in obs))
        assert row["sum_inputTokens"] == str(sum(_input_tokens(o) for o in obs))
        assert row["sum_outputTokens"] == str(sum(o.row.usage_details.get("output", 0) for o in obs))
        assert row["sum_inputCost"] == approx(
            sum(v for o in obs for k, v in o.row.cost_details.items() if "input" in k)
        )
        assert row["count_latency"] == str(len(latencies))
        assert row["p95_latency"] == approx(quantile(latencies, 0.95) if latencies else None)
        assert row["avg_timeToFirstToken"] == approx(sum(ttft) / len(ttft) if ttft else None)
        assert row["sum_countScores"] == str(sum(len(ds.scores_of_observation(o.row.id)) for o in obs))
        costs = [o.row.total_cost for o in obs if o.row.total_cost is not None]
        assert row["sum_totalCost"] == approx(sum(costs) if costs else None)


async def test_observation_dimensions_from_the_trace(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    rows = await metrics(
        spyglass,
        loaded.keys,
        {
            "view": "observations",
            "dimensions": [{"field": "traceName"}, {"field": "userId"}],
            "metrics": [{"measure": "count", "aggregation": "count"}, {"measure": "totalCost", "aggregation": "sum"}],
            "filters": [
                {"column": "type", "operator": "any of", "value": ["GENERATION"], "type": "stringOptions"},
                {"column": "traceName", "operator": "!=", "value": "agent", "type": "string"},
            ],
            **WINDOW,
        },
    )
    groups: dict[tuple[str, str | None], list[Obs]] = defaultdict(list)
    for o in ds.live_observations():
        trace = ds.traces[o.row.trace_id]
        if o.row.type == "GENERATION" and trace.name != "agent":
            groups[(trace.name, trace.user_id)].append(o)
    got = by(rows, "traceName", "userId")
    assert set(got) == set(groups)
    for key, obs in groups.items():
        assert got[key]["count_count"] == str(len(obs))
        assert got[key]["sum_totalCost"] == approx(sum(o.row.total_cost or 0 for o in obs))


async def test_time_series_by_day_fills_empty_days(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    rows = await metrics(
        spyglass,
        loaded.keys,
        {
            "view": "observations",
            "metrics": [{"measure": "count", "aggregation": "count"}, {"measure": "totalCost", "aggregation": "sum"}],
            "timeDimension": {"granularity": "day"},
            **WINDOW,
        },
    )
    per_day: dict[str, list[Obs]] = defaultdict(list)
    for o in ds.live_observations():
        per_day[datetime.fromtimestamp(o.start_ms / 1000, UTC).strftime("%Y-%m-%d")].append(o)
    days = [r["time_dimension"] for r in rows]
    assert days == ["2025-03-10", "2025-03-11", "2025-03-12", "2025-03-13", "2025-03-14"]
    for row in rows:
        obs = per_day.get(row["time_dimension"], [])
        assert row["count_count"] == str(len(obs))
    assert by(rows, "time_dimension")["2025-03-12"]["count_count"] == "0"


async def test_auto_granularity_and_hours(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    auto = await metrics(
        spyglass,
        loaded.keys,
        {
            "view": "traces",
            "metrics": [{"measure": "count", "aggregation": "count"}],
            "timeDimension": {"granularity": "auto"},
            **WINDOW,
        },
    )
    assert [r["time_dimension"] for r in auto][:2] == ["2025-03-10", "2025-03-11"]  # 4 days → daily buckets

    start = datetime.fromtimestamp((BASE_MS + DAY_MS) / 1000, UTC)
    end = datetime.fromtimestamp((BASE_MS + DAY_MS + 6 * 3_600_000) / 1000, UTC)
    hourly = await metrics(
        spyglass,
        loaded.keys,
        {
            "view": "traces",
            "metrics": [{"measure": "count", "aggregation": "count"}],
            "timeDimension": {"granularity": "hour"},
            "fromTimestamp": start.isoformat(),
            "toTimestamp": end.isoformat(),
        },
    )
    expected: dict[str, int] = defaultdict(int)
    for t in ds.traces.values():
        ms = ds.trace_ms[t.id]
        if start.timestamp() * 1000 <= ms <= end.timestamp() * 1000:
            expected[datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:00:00")] += 1
    assert len(hourly) == 7  # 00:00 … 06:00, empty hours included
    assert {r["time_dimension"]: int(r["count_count"]) for r in hourly if r["count_count"] != "0"} == expected


async def test_numeric_scores(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    rows = await metrics(
        spyglass,
        loaded.keys,
        {
            "view": "scores-numeric",
            "dimensions": [{"field": "name"}, {"field": "dataType"}],
            "metrics": [
                {"measure": "value", "aggregation": "avg"},
                {"measure": "value", "aggregation": "min"},
                {"measure": "count", "aggregation": "count"},
            ],
            **WINDOW,
        },
    )
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for s in ds.live_scores():
        if s.data_type in ("NUMERIC", "BOOLEAN"):
            groups[(s.name, s.data_type)].append(s.value)
    got = by(rows, "name", "dataType")
    assert set(got) == set(groups)  # no CATEGORICAL, no TEXT
    for key, values in groups.items():
        assert got[key]["avg_value"] == approx(sum(values) / len(values))
        assert got[key]["min_value"] == approx(min(values))
        assert got[key]["count_count"] == str(len(values))


async def test_categorical_scores(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    rows = await metrics(
        spyglass,
        loaded.keys,
        {
            "view": "scores-categorical",
            "dimensions": [{"field": "stringValue"}],
            "metrics": [{"measure": "count", "aggregation": "count"}],
            **WINDOW,
        },
    )
    expected: dict[str, int] = defaultdict(int)
    for s in ds.live_scores():
        if s.data_type == "CATEGORICAL":
            expected[s.string_value or ""] += 1
    assert {r["stringValue"]: int(r["count_count"]) for r in rows} == expected


async def test_score_dimensions_from_trace_and_observation(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    rows = await metrics(
        spyglass,
        loaded.keys,
        {
            "view": "scores-numeric",
            "dimensions": [{"field": "traceName"}, {"field": "observationModelName"}],
            "metrics": [{"measure": "value", "aggregation": "sum"}],
            "filters": [{"column": "name", "operator": "=", "value": "quality", "type": "string"}],
            **WINDOW,
        },
    )
    expected: dict[tuple[str | None, str | None], float] = defaultdict(float)
    for s in ds.live_scores():
        if s.name != "quality":
            continue
        trace = ds.traces.get(s.trace_id) if s.trace_id else None
        obs = ds.observations.get(s.observation_id) if s.observation_id else None
        expected[(trace.name if trace else None, obs.row.provided_model_name if obs else None)] += s.value
    got = {(r["traceName"], r["observationModelName"]): r["sum_value"] for r in rows}
    assert set(got) == set(expected)
    for key, total in expected.items():
        assert got[key] == approx(total)


TraceFilter = tuple[dict[str, Any], Callable[[TraceRow, Dataset], bool]]

TRACE_FILTERS: list[TraceFilter] = [
    ({"column": "name", "operator": "=", "value": "chat", "type": "string"}, lambda t, d: t.name == "chat"),
    ({"column": "name", "operator": "contains", "value": "ag", "type": "string"}, lambda t, d: "ag" in t.name),
    (
        {"column": "name", "operator": "does not contain", "value": "ha", "type": "string"},
        lambda t, d: "ha" not in t.name,
    ),
    ({"column": "name", "operator": "starts with", "value": "r", "type": "string"}, lambda t, d: t.name[:1] == "r"),
    ({"column": "name", "operator": "ends with", "value": "t", "type": "string"}, lambda t, d: t.name.endswith("t")),
    (
        {"column": "userId", "operator": "none of", "value": ["u1"], "type": "stringOptions"},
        lambda t, d: t.user_id != "u1",
    ),
    (
        {"column": "tags", "operator": "all of", "value": ["a", "b"], "type": "arrayOptions"},
        lambda t, d: {"a", "b"} <= set(t.tags),
    ),
    (
        {"column": "tags", "operator": "none of", "value": ["a"], "type": "arrayOptions"},
        lambda t, d: "a" not in t.tags,
    ),
    ({"column": "sessionId", "operator": "is null", "value": None, "type": "null"}, lambda t, d: t.session_id is None),
    (
        {"column": "release", "operator": "is not null", "value": None, "type": "null"},
        lambda t, d: t.release is not None,
    ),
    (
        {"column": "metadata", "operator": ">=", "key": "n", "value": 10, "type": "numberObject"},
        lambda t, d: int(t.metadata["n"]) >= 10,
    ),
    (
        {"column": "timestamp", "operator": "<", "value": "2025-03-11T12:00:00Z", "type": "datetime"},
        lambda t, d: d.trace_ms[t.id] < BASE_MS + DAY_MS + DAY_MS // 2,
    ),
    (
        {"column": "observationName", "operator": "=", "value": "retrieve", "type": "string"},
        lambda t, d: any(o.row.name == "retrieve" for o in d.observations_of(t.id)),
    ),
    (
        {"column": "scoreName", "operator": "any of", "value": ["verdict"], "type": "stringOptions"},
        lambda t, d: any(s.name == "verdict" for s in d.scores_of_trace(t.id)),
    ),
]


@pytest.mark.parametrize(
    ("spec", "predicate"), TRACE_FILTERS, ids=[f"{f[0]['column']}-{f[0]['operator']}" for f in TRACE_FILTERS]
)
async def test_trace_filter_operators(
    spyglass: Harness, loaded: Loaded, spec: dict[str, Any], predicate: Callable[[TraceRow, Dataset], bool]
) -> None:
    ds = loaded.data
    rows = await metrics(
        spyglass,
        loaded.keys,
        {"view": "traces", "metrics": [{"measure": "count", "aggregation": "count"}], "filters": [spec], **WINDOW},
    )
    expected = sum(1 for t in ds.live_traces() if predicate(t, ds))
    assert 0 < expected < len(ds.live_traces()), "each filter should keep some traces and drop others"
    assert rows == [{"count_count": str(expected)}]


async def test_fan_out_dimension_counts_each_trace_once_per_value(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    rows = await metrics(
        spyglass,
        loaded.keys,
        {
            "view": "traces",
            "dimensions": [{"field": "observationName"}],
            "metrics": [{"measure": "count", "aggregation": "count"}, {"measure": "totalCost", "aggregation": "sum"}],
            **WINDOW,
        },
    )
    expected_count: dict[str | None, int] = defaultdict(int)
    expected_cost: dict[str | None, float] = defaultdict(float)
    for t in ds.live_traces():
        names = {o.row.name for o in ds.observations_of(t.id)} or {None}
        for name in names:
            expected_count[name] += 1
            expected_cost[name] += trace_cost(ds, t.id)
    got = by(rows, "observationName")
    assert {k: int(v["count_count"]) for k, v in got.items()} == expected_count
    for name, cost in expected_cost.items():
        assert got[name]["sum_totalCost"] == approx(cost)


async def test_order_by_and_row_limit(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    rows = await metrics(
        spyglass,
        loaded.keys,
        {
            "view": "observations",
            "dimensions": [{"field": "name"}],
            "metrics": [{"measure": "totalTokens", "aggregation": "sum"}],
            "orderBy": [{"field": "name", "direction": "desc"}],
            "config": {"row_limit": 2},
            **WINDOW,
        },
    )
    names = sorted({o.row.name for o in ds.live_observations()}, reverse=True)[:2]
    assert [r["name"] for r in rows] == names
    for row in rows:
        total = sum(o.row.usage_details.get("total", 0) for o in ds.live_observations() if o.row.name == row["name"])
        assert row["sum_totalTokens"] == str(total)


async def test_histogram(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    rows = await metrics(
        spyglass,
        loaded.keys,
        {
            "view": "observations",
            "metrics": [{"measure": "latency", "aggregation": "histogram"}],
            "config": {"bins": 4},
            **WINDOW,
        },
    )
    latencies = [v for o in ds.live_observations() if (v := obs_latency(o)) is not None]
    bins = rows[0]["histogram_latency"]
    assert 1 <= len(bins) <= 4
    assert sum(b[2] for b in bins) == pytest.approx(len(latencies))
    assert bins[0][0] == pytest.approx(min(latencies)) and bins[-1][1] == pytest.approx(max(latencies))


async def test_deleted_and_out_of_range_rows_are_not_counted(spyglass: Harness, loaded: Loaded) -> None:
    for trace_id in ("trace-001", "trace-046", "trace-047"):
        rows = await metrics(
            spyglass,
            loaded.keys,
            {
                "view": "traces",
                "metrics": [{"measure": "count", "aggregation": "count"}],
                "filters": [{"column": "id", "operator": "=", "value": trace_id, "type": "string"}],
                **WINDOW,
            },
        )
        assert rows == [{"count_count": "0"}], trace_id
    wide = await metrics(
        spyglass,
        loaded.keys,
        {
            "view": "traces",
            "metrics": [{"measure": "count", "aggregation": "count"}],
            "fromTimestamp": "2025-01-01T00:00:00Z",
            "toTimestamp": "2025-12-31T00:00:00Z",
        },
    )
    assert wide == [{"count_count": str(len(loaded.data.traces))}]  # out-of-range ones included now


async def test_projects_are_isolated(spyglass: Harness, loaded: Loaded) -> None:
    from tests.metrics.data import build

    query = {
        "view": "observations",
        "metrics": [{"measure": "count", "aggregation": "count"}, {"measure": "totalTokens", "aggregation": "sum"}],
        **WINDOW,
    }
    mine = await metrics(spyglass, loaded.keys, query)
    theirs = await metrics(spyglass, loaded.other, query)
    other = build(loaded.other.project_id, seed=99)
    for rows, ds in ((mine, loaded.data), (theirs, other)):
        obs = ds.live_observations()
        assert rows == [
            {
                "count_count": str(len(obs)),
                "sum_totalTokens": str(sum(o.row.usage_details.get("total", 0) for o in obs)),
            }
        ]
    assert mine != theirs


async def test_requires_a_project_key(spyglass: Harness, loaded: Loaded) -> None:
    status, body = await get(spyglass, None, "/api/public/metrics", query="{}")
    assert status == 401 and "message" in body


BAD_QUERIES: list[tuple[dict[str, Any] | str, str]] = [
    ("not json", "not valid JSON"),
    ({"view": "spans", "metrics": [{"measure": "count", "aggregation": "count"}], **WINDOW}, "'spans'"),
    (
        {
            "view": "traces",
            "dimensions": [{"field": "colour"}],
            "metrics": [{"measure": "count", "aggregation": "count"}],
            **WINDOW,
        },
        "'colour'",
    ),
    ({"view": "traces", "metrics": [{"measure": "vibes", "aggregation": "sum"}], **WINDOW}, "'vibes'"),
    ({"view": "traces", "metrics": [{"measure": "count", "aggregation": "median"}], **WINDOW}, "'median'"),
    ({"view": "traces", "metrics": [], **WINDOW}, "at least one metric"),
    (
        {"view": "traces", "metrics": [{"measure": "count", "aggregation": "count"}], "fromTimestamp": FROM},
        "toTimestamp",
    ),
    (
        {
            "view": "traces",
            "metrics": [{"measure": "count", "aggregation": "count"}],
            "fromTimestamp": TO,
            "toTimestamp": FROM,
        },
        "before",
    ),
    (
        {
            "view": "traces",
            "metrics": [{"measure": "count", "aggregation": "count"}],
            "filters": [{"column": "shoeSize", "operator": "=", "value": "x", "type": "string"}],
            **WINDOW,
        },
        "'shoeSize'",
    ),
    (
        {
            "view": "traces",
            "metrics": [{"measure": "count", "aggregation": "count"}],
            "filters": [{"column": "name", "operator": "sounds like", "value": "x", "type": "string"}],
            **WINDOW,
        },
        "'sounds like'",
    ),
    (
        {
            "view": "traces",
            "metrics": [{"measure": "count", "aggregation": "count"}],
            "filters": [{"column": "name", "operator": "=", "value": "x", "type": "fuzzy"}],
            **WINDOW,
        },
        "'fuzzy'",
    ),
    (
        {
            "view": "traces",
            "metrics": [{"measure": "count", "aggregation": "count"}],
            "filters": [{"column": "tags", "operator": "=", "value": "a", "type": "string"}],
            **WINDOW,
        },
        "arrayOptions",
    ),
    (
        {
            "view": "traces",
            "metrics": [{"measure": "count", "aggregation": "count"}],
            "filters": [{"column": "metadata", "operator": "=", "value": "x", "type": "stringObject"}],
            **WINDOW,
        },
        "'key'",
    ),
    (
        {
            "view": "traces",
            "metrics": [{"measure": "count", "aggregation": "count"}],
            "orderBy": [{"field": "sum_totalCost", "direction": "desc"}],
            **WINDOW,
        },
        "'sum_totalCost'",
    ),
    (
        {
            "view": "traces",
            "metrics": [{"measure": "count", "aggregation": "count"}],
            "timeDimension": {"granularity": "fortnight"},
            **WINDOW,
        },
        "'fortnight'",
    ),
]


@pytest.mark.parametrize(("query", "needle"), BAD_QUERIES)
async def test_invalid_queries_are_400_naming_the_problem(
    spyglass: Harness, loaded: Loaded, query: dict[str, Any] | str, needle: str
) -> None:
    status, message = await metrics_error(spyglass, loaded.keys, query)
    assert status == 400
    assert needle in message


async def test_values_are_bound_not_spliced(spyglass: Harness, loaded: Loaded) -> None:
    hostile = "x' OR 1=1 OR name = '"
    rows = await metrics(
        spyglass,
        loaded.keys,
        {
            "view": "traces",
            "metrics": [{"measure": "count", "aggregation": "count"}],
            "filters": [
                {"column": "name", "operator": "=", "value": hostile, "type": "string"},
                {"column": "metadata", "operator": "=", "key": "') OR 1=1 --", "value": "y", "type": "stringObject"},
            ],
            **WINDOW,
        },
    )
    assert rows == [{"count_count": "0"}]
