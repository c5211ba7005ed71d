"""GET /api/public/metrics/daily against the seeded rows."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from spyglass.store.clickhouse.rows import TraceRow
from tests.harness import Harness
from tests.metrics.conftest import Loaded, get
from tests.metrics.data import FROM, TO, Dataset, build


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def expected_days(ds: Dataset, traces: list[TraceRow]) -> list[dict[str, Any]]:
    days: dict[str, dict[str, Any]] = {}

    def entry(day: str) -> dict[str, Any]:
        return days.setdefault(day, {"countTraces": 0, "countObservations": 0, "totalCost": 0.0, "usage": {}})

    for t in traces:
        entry(_day(ds.trace_ms[t.id]))["countTraces"] += 1
    for t in traces:
        for o in ds.observations_of(t.id):
            e = entry(_day(o.start_ms))
            e["countObservations"] += 1
            e["totalCost"] += o.row.total_cost or 0.0
            u = e["usage"].setdefault(
                o.row.provided_model_name,
                {
                    "inputUsage": 0,
                    "outputUsage": 0,
                    "totalUsage": 0,
                    "traces": set(),
                    "countObservations": 0,
                    "totalCost": 0.0,
                },
            )
            u["inputUsage"] += o.row.usage_details.get("input", 0)
            u["outputUsage"] += o.row.usage_details.get("output", 0)
            u["totalUsage"] += o.row.usage_details.get("total", 0)
            u["traces"].add(t.id)
            u["countObservations"] += 1
            u["totalCost"] += o.row.total_cost or 0.0
    return [{"date": day, **days[day]} for day in sorted(days, reverse=True)]


def assert_matches(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert [d["date"] for d in got] == [d["date"] for d in expected]
    for g, e in zip(got, expected, strict=True):
        assert g["countTraces"] == e["countTraces"]
        assert g["countObservations"] == e["countObservations"]
        assert g["totalCost"] == pytest.approx(e["totalCost"], rel=1e-9, abs=1e-12)
        usage = {u["model"]: u for u in g["usage"]}
        assert set(usage) == set(e["usage"])
        for model, want in e["usage"].items():
            have = usage[model]
            assert have["inputUsage"] == want["inputUsage"]
            assert have["outputUsage"] == want["outputUsage"]
            assert have["totalUsage"] == want["totalUsage"]
            assert have["countTraces"] == len(want["traces"])
            assert have["countObservations"] == want["countObservations"]
            assert have["totalCost"] == pytest.approx(want["totalCost"], rel=1e-9, abs=1e-12)


async def test_daily_metrics_in_a_window(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    status, body = await get(
        spyglass, loaded.keys, "/api/public/metrics/daily", fromTimestamp=FROM, toTimestamp=TO, limit="100"
    )
    assert status == 200
    expected = expected_days(ds, ds.live_traces())
    assert_matches(body["data"], expected)
    assert body["meta"] == {"page": 1, "limit": 100, "totalItems": len(expected), "totalPages": 1}
    assert any(u["model"] is None for d in body["data"] for u in d["usage"])  # spans and events


async def test_daily_metrics_filters(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    params = {"traceName": "chat", "userId": "u2"}
    status, body = await get(spyglass, loaded.keys, "/api/public/metrics/daily", **params)
    assert status == 200
    chosen = [t for t in ds.traces.values() if t.name == "chat" and t.user_id == "u2"]
    assert chosen
    assert_matches(body["data"], expected_days(ds, chosen))

    async with aiohttp.ClientSession() as session:
        url = f"{spyglass.url}/api/public/metrics/daily?tags=a&tags=b"
        async with session.get(url, headers=loaded.keys.headers) as resp:
            assert resp.status == 200
            tagged = (await resp.json())["data"]
    both = [t for t in ds.traces.values() if {"a", "b"} <= set(t.tags)]
    assert both
    assert_matches(tagged, expected_days(ds, both))


async def test_daily_metrics_paging(spyglass: Harness, loaded: Loaded) -> None:
    ds = loaded.data
    everything = expected_days(ds, list(ds.traces.values()))
    pages = []
    for page in (1, 2, 3):
        status, body = await get(spyglass, loaded.keys, "/api/public/metrics/daily", page=str(page), limit="2")
        assert status == 200
        assert body["meta"]["totalItems"] == len(everything)
        assert body["meta"]["totalPages"] == math.ceil(len(everything) / 2)
        pages.extend(body["data"])
    assert [d["date"] for d in pages] == [d["date"] for d in everything][:6]
    status, body = await get(spyglass, loaded.keys, "/api/public/metrics/daily", limit="0")
    assert status == 400


async def test_daily_metrics_are_per_project(spyglass: Harness, loaded: Loaded) -> None:
    keys = await spyglass.new_project()
    status, body = await get(spyglass, keys, "/api/public/metrics/daily")
    assert status == 200
    assert body == {"data": [], "meta": {"page": 1, "limit": 50, "totalItems": 0, "totalPages": 0}}
    status, body = await get(spyglass, loaded.other, "/api/public/metrics/daily", traceName="chat", limit="100")
    assert status == 200
    other = build(loaded.other.project_id, seed=99)
    assert_matches(body["data"], expected_days(other, [t for t in other.traces.values() if t.name == "chat"]))
