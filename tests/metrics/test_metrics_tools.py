"""Upstream's tool dimensions and measures of the observations view: `toolNames` and
`calledToolNames` explode (an observation counts once under each tool, not at all without
tools), `toolDefinitions` and `toolCalls` count an observation's tools. Checked against the
seeded rows and against generations ingested through /api/public/ingestion."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from tests.harness import Harness
from tests.metrics.conftest import Loaded, metrics, metrics_error
from tests.metrics.data import FROM, TO, Obs

WINDOW = {"fromTimestamp": FROM, "toTimestamp": TO}
VERSIONS = ("v1", "v2")


def _names(o: Obs, dimension: str) -> set[str]:
    if dimension == "toolNames":
        return set(o.row.tool_definitions)
    return set(o.row.tool_call_names)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("dimension", ["toolNames", "calledToolNames"])
async def test_tool_name_dimensions_explode(spyglass: Harness, loaded: Loaded, version: str, dimension: str) -> None:
    query = {
        "view": "observations",
        "dimensions": [{"field": dimension}],
        "metrics": [{"measure": "count", "aggregation": "count"}, {"measure": "totalCost", "aggregation": "sum"}],
        **WINDOW,
    }
    rows = await metrics(spyglass, loaded.keys, query, version)
    counts: Counter[str] = Counter()
    costs: dict[str, float] = defaultdict(float)
    for o in loaded.data.live_observations():
        for name in _names(o, dimension):
            counts[name] += 1
            costs[name] += o.row.total_cost or 0.0
    # Some generations call a tool twice: those still count once under it.
    assert any(len(o.row.tool_call_names) > len(set(o.row.tool_call_names)) for o in loaded.data.live_observations())
    assert len(counts) > 1
    assert {r[dimension]: int(r["count_count"]) for r in rows} == dict(counts)
    for row in rows:
        assert row["sum_totalCost"] == pytest.approx(costs[row[dimension]], rel=1e-9)


@pytest.mark.parametrize("version", VERSIONS)
async def test_tool_count_measures(spyglass: Harness, loaded: Loaded, version: str) -> None:
    query = {
        "view": "observations",
        "dimensions": [{"field": "type"}],
        "metrics": [
            {"measure": "toolDefinitions", "aggregation": "sum"},
            {"measure": "toolDefinitions", "aggregation": "max"},
            {"measure": "toolCalls", "aggregation": "sum"},
            {"measure": "toolCalls", "aggregation": "avg"},
        ],
        **WINDOW,
    }
    rows = {r["type"]: r for r in await metrics(spyglass, loaded.keys, query, version)}
    by_type: dict[str, list[Obs]] = defaultdict(list)
    for o in loaded.data.live_observations():
        by_type[o.row.type].append(o)
    assert set(rows) == set(by_type)
    for kind, observations in by_type.items():
        definitions = [len(o.row.tool_definitions) for o in observations]
        calls = [len(o.row.tool_calls) for o in observations]
        row = rows[kind]
        assert row["sum_toolDefinitions"] == str(sum(definitions))
        assert row["max_toolDefinitions"] == str(max(definitions))
        assert row["sum_toolCalls"] == str(sum(calls))
        assert row["avg_toolCalls"] == pytest.approx(sum(calls) / len(calls))
    assert int(rows["GENERATION"]["sum_toolCalls"]) > 0


@pytest.mark.parametrize(
    ("column", "operator", "values"),
    [
        ("toolNames", "any of", ["weather"]),
        ("toolNames", "none of", ["weather", "calc"]),
        ("toolNames", "all of", ["search", "calc"]),
        ("calledToolNames", "any of", ["calc"]),
        ("calledToolNames", "none of", ["search"]),
    ],
)
async def test_tool_name_filters_test_the_whole_array(
    spyglass: Harness, loaded: Loaded, column: str, operator: str, values: list[str]
) -> None:
    query = {
        "view": "observations",
        "metrics": [{"measure": "count", "aggregation": "count"}],
        "filters": [{"column": column, "operator": operator, "value": values, "type": "arrayOptions"}],
        **WINDOW,
    }
    rows = await metrics(spyglass, loaded.keys, query)
    match = {
        "any of": lambda names: bool(names & set(values)),
        "none of": lambda names: not names & set(values),
        "all of": lambda names: set(values) <= names,
    }[operator]
    expected = sum(1 for o in loaded.data.live_observations() if match(_names(o, column)))
    assert 0 < expected < len(loaded.data.live_observations())
    assert rows[0]["count_count"] == str(expected)
    status, message = await metrics_error(
        spyglass,
        loaded.keys,
        {**query, "filters": [{"column": column, "operator": "=", "value": "x", "type": "string"}]},
    )
    assert status == 400 and "arrayOptions" in message


async def test_tool_names_with_a_fan_out_dimension(spyglass: Harness, loaded: Loaded) -> None:
    """Grouped per observation (scores join), the exploded names are group keys as well."""
    query = {
        "view": "observations",
        "dimensions": [{"field": "toolNames"}, {"field": "scoreName"}],
        "metrics": [{"measure": "count", "aggregation": "count"}],
        **WINDOW,
    }
    rows = await metrics(spyglass, loaded.keys, query)
    expected: Counter[tuple[str, str | None]] = Counter()
    for o in loaded.data.live_observations():
        score_names = {s.name for s in loaded.data.scores_of_observation(o.row.id)} or {None}
        for tool in o.row.tool_definitions:
            for score in score_names:
                expected[(tool, score)] += 1
    assert any(score is not None for _, score in expected)
    assert {(r["toolNames"], r["scoreName"]): int(r["count_count"]) for r in rows} == dict(expected)


def _tool(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": name, "parameters": {"type": "object"}}}


def _call(call_id: str, name: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": "{}"}}


async def test_tools_of_ingested_generations(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    now = datetime.now(UTC)
    trace_id = str(uuid.uuid4())
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    generations = [
        # offered, called (a tool called twice is one name)
        (["get_weather", "search"], [("c1", "get_weather"), ("c2", "get_weather"), ("c3", "search")]),
        (["calc"], []),
        ([], []),
        (["get_weather"], [("c4", "get_weather")]),
    ]
    batch = []
    for n, (offered, calls) in enumerate(generations):
        body: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "traceId": trace_id,
            "name": f"llm-{n}",
            "startTime": (now + timedelta(seconds=n)).isoformat(),
            "input": {"messages": messages, "tools": [_tool(t) for t in offered]} if offered else messages,
            "output": {"role": "assistant", "tool_calls": [_call(i, t) for i, t in calls]} if calls else "hello",
        }
        batch.append({"id": str(uuid.uuid4()), "type": "generation-create", "timestamp": now.isoformat(), "body": body})
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{spyglass.url}/api/public/ingestion", json={"batch": batch}, headers=keys.headers) as response,
    ):
        assert response.status == 207
    await spyglass.wait_idle()

    iso = lambda d: d.isoformat().replace("+00:00", "Z")  # noqa: E731
    window = {"fromTimestamp": iso(now - timedelta(hours=1)), "toTimestamp": iso(now + timedelta(hours=1))}
    count = [{"measure": "count", "aggregation": "count"}]
    for version in VERSIONS:
        offered_rows = await metrics(
            spyglass,
            keys,
            {"view": "observations", "dimensions": [{"field": "toolNames"}], "metrics": count, **window},
            version,
        )
        assert {r["toolNames"]: r["count_count"] for r in offered_rows} == {
            "get_weather": "2",
            "search": "1",
            "calc": "1",
        }
        called_rows = await metrics(
            spyglass,
            keys,
            {"view": "observations", "dimensions": [{"field": "calledToolNames"}], "metrics": count, **window},
            version,
        )
        assert {r["calledToolNames"]: r["count_count"] for r in called_rows} == {"get_weather": "2", "search": "1"}
        totals = await metrics(
            spyglass,
            keys,
            {
                "view": "observations",
                "metrics": [
                    {"measure": "toolDefinitions", "aggregation": "sum"},
                    {"measure": "toolCalls", "aggregation": "sum"},
                    {"measure": "toolCalls", "aggregation": "max"},
                ],
                **window,
            },
            version,
        )
        assert totals == [{"sum_toolDefinitions": "4", "sum_toolCalls": "4", "max_toolCalls": "3"}]
