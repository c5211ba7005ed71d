"""The metrics compiler on its own: parsing, naming, parameter binding, granularity."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from spyglass.query.metrics import QueryError, compile_query, parse_query
from spyglass.query.metrics.compiler import auto_granularity

BASE = {
    "view": "observations",
    "metrics": [{"measure": "totalCost", "aggregation": "sum"}],
    "fromTimestamp": "2025-01-01T00:00:00Z",
    "toTimestamp": "2025-01-02T00:00:00+01:00",
}


def compiled(**changes: Any) -> Any:
    return compile_query(parse_query(json.dumps({**BASE, **changes})), "proj-1", "v1")


def test_null_optional_lists_are_accepted() -> None:
    query = compiled(dimensions=None, filters=None, orderBy=None, timeDimension=None)
    assert [c.name for c in query.columns] == ["sum_totalCost"]


def test_result_keys_are_aggregation_then_measure() -> None:
    query = compiled(
        dimensions=[{"field": "providedModelName"}],
        metrics=[{"measure": "count", "aggregation": "count"}, {"measure": "latency", "aggregation": "p95"}],
        timeDimension={"granularity": "day"},
    )
    assert [c.name for c in query.columns] == ["providedModelName", "time_dimension", "count_count", "p95_latency"]
    assert [c.kind for c in query.columns] == ["dimension", "dimension", "integer", "float"]


def test_user_values_only_travel_as_parameters() -> None:
    evil = "'; DROP TABLE traces; --"
    query = compiled(
        filters=[
            {"column": "name", "operator": "=", "value": evil, "type": "string"},
            {"column": "metadata", "operator": "contains", "key": evil, "value": evil, "type": "stringObject"},
            {"column": "type", "operator": "any of", "value": [evil], "type": "stringOptions"},
        ]
    )
    assert evil not in query.sql and "DROP" not in query.sql
    assert query.params["f0"] == evil and query.params["f1k"] == evil and query.params["f2"] == [evil]
    assert query.params["project"] == "proj-1"
    # Timestamps are normalised to UTC.
    assert query.params["t_to"] == "2025-01-01 23:00:00.000000"


def test_duplicate_dimensions_and_metrics_are_collapsed() -> None:
    query = compiled(
        dimensions=[{"field": "name"}, {"field": "name"}],
        metrics=[{"measure": "totalCost", "aggregation": "sum"}, {"measure": "totalCost", "aggregation": "sum"}],
    )
    assert [c.name for c in query.columns] == ["name", "sum_totalCost"]


@pytest.mark.parametrize(
    ("hours", "expected"),
    [(1, "minute"), (2, "hour"), (71, "hour"), (72, "day"), (1439, "day"), (1440, "week"), (8760, "month")],
)
def test_auto_granularity(hours: int, expected: str) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    assert auto_granularity(start, start + timedelta(hours=hours)) == expected


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"view": "traces", "dimensions": [{"field": "traceId"}]}, "'traceId'"),
        ({"metrics": [{"measure": "count", "aggregation": "count"}], "config": {"bins": 0}}, "bins"),
        ({"fromTimestamp": "yesterday"}, "'yesterday'"),
        ({"metrics": "lots"}, "metrics"),
    ],
)
def test_errors_name_the_problem(changes: dict[str, Any], needle: str) -> None:
    with pytest.raises(QueryError) as info:
        compiled(**changes)
    assert needle in str(info.value)


def test_v2_refuses_high_cardinality_and_defaults_the_row_limit() -> None:
    query = compile_query(parse_query(json.dumps(BASE)), "p", "v2")
    assert query.sql.endswith("LIMIT 100 SETTINGS join_use_nulls = 1")
    with pytest.raises(QueryError, match="sessionId"):
        compile_query(parse_query(json.dumps({**BASE, "dimensions": [{"field": "sessionId"}]})), "p", "v2")
    v1 = compile_query(parse_query(json.dumps({**BASE, "dimensions": [{"field": "sessionId"}]})), "p", "v1")
    assert "LIMIT" not in v1.sql.split("GROUP BY entity_id")[-1]
