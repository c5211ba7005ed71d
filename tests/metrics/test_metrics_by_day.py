"""Daily metrics answered day by day, past days from the cache: the rows the whole query gives,
and never stale after a write or a delete."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from spyglass.query.metrics import DayCache, MetricsQuery, compile_query, format_rows
from spyglass.query.views.metrics import METRICS_CACHE
from spyglass.store.postgres.notify import decode_written, encode_written
from tests.harness import Harness, ProjectKeys
from tests.metrics.conftest import Loaded, metrics
from tests.metrics.data import FROM, TO


async def live_cache(harness: Harness) -> DayCache:
    assert harness.app is not None
    cache = harness.app[METRICS_CACHE]
    deadline = time.monotonic() + 10
    while not cache.enabled:
        assert time.monotonic() < deadline, "the metrics cache never started listening"
        await asyncio.sleep(0.05)
    return cache


async def whole_query(harness: Harness, keys: ProjectKeys, query: dict[str, Any], version: str) -> list[dict]:
    """What the query gives as one SELECT (no cache, no splitting)."""
    compiled = compile_query(msgspec.convert(query, MetricsQuery), keys.project_id, version)  # type: ignore[arg-type]
    assert compiled.day_local, "this test is about day-local queries"
    rows = format_rows(await harness.stores.ch.rows(compiled.sql, compiled.params), compiled.columns)
    return msgspec.json.decode(msgspec.json.encode(rows))


def _q(view: str, metrics_: list[tuple[str, str]], dims: list[str] = (), **extra: Any) -> dict[str, Any]:  # type: ignore[assignment]
    return {
        "view": view,
        "dimensions": [{"field": d} for d in dims],
        "metrics": [{"measure": m, "aggregation": a} for m, a in metrics_],
        "timeDimension": {"granularity": extra.pop("granularity", "day")},
        "fromTimestamp": extra.pop("from_", FROM),
        "toTimestamp": extra.pop("to", TO),
        **extra,
    }


CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "cost and tokens by model",
        "v1",
        _q("observations", [("totalCost", "sum"), ("totalTokens", "sum")], ["providedModelName"]),
    ),
    (
        "partial first and last day",
        "v1",
        _q(
            "observations",
            [("count", "count"), ("latency", "p95")],
            ["type"],
            from_="2025-03-10T06:30:00Z",
            to="2025-03-13T17:45:00.5Z",
        ),
    ),
    (
        "empty days on both sides",
        "v1",
        _q("observations", [("totalCost", "sum")], from_="2025-03-07T12:00:00Z", to="2025-03-16T00:00:00Z"),
    ),
    ("traces by name", "v1", _q("traces", [("count", "count")], ["name", "environment"])),
    ("numeric scores", "v1", _q("scores-numeric", [("value", "avg"), ("count", "count")], ["name"])),
    ("categorical scores", "v2", _q("scores-categorical", [("count", "count")], ["stringValue"])),
    ("histogram", "v1", _q("observations", [("latency", "histogram")], config={"bins": 4})),
    (
        "filtered",
        "v1",
        _q(
            "observations",
            [("totalTokens", "sum"), ("totalTokens", "avg")],
            ["name"],
            filters=[{"column": "environment", "operator": "=", "value": "production", "type": "string"}],
        ),
    ),
    (
        "row limit cuts a day",
        "v2",
        _q("observations", [("count", "count")], ["providedModelName", "name"], config={"row_limit": 5}),
    ),
    ("v2 default limit", "v2", _q("observations", [("count", "count")], ["name"])),
    ("auto granularity", "v1", _q("observations", [("totalCost", "sum")], ["providedModelName"], granularity="auto")),
]


@pytest.mark.parametrize(("name", "version", "query"), CASES, ids=[c[0] for c in CASES])
async def test_same_rows_as_the_whole_query(
    spyglass: Harness, loaded: Loaded, name: str, version: str, query: dict[str, Any]
) -> None:
    cache = await live_cache(spyglass)
    expected = await whole_query(spyglass, loaded.keys, query, version)
    assert expected and any(
        any(v not in (0, "0", None, "", []) for k, v in r.items() if k != "time_dimension") for r in expected
    )
    first = await metrics(spyglass, loaded.keys, query, version)
    hits = cache.hits
    second = await metrics(spyglass, loaded.keys, query, version)
    assert first == expected
    assert second == expected
    assert cache.hits > hits, "the second ask should have read past days from the cache"


async def test_queries_that_are_not_day_local(loaded: Loaded) -> None:
    # A joined table (trace name), weekly buckets, or an explicit order can't be cut into days.
    for query in (
        _q("observations", [("count", "count")], ["traceName"]),
        _q("observations", [("count", "count")], granularity="week"),
        _q("observations", [("count", "count")], ["name"], orderBy=[{"field": "count_count", "direction": "desc"}]),
        {k: v for k, v in _q("observations", [("count", "count")]).items() if k != "timeDimension"},
    ):
        compiled = compile_query(msgspec.convert(query, MetricsQuery), loaded.keys.project_id, "v1")
        assert not compiled.day_local, query


def test_written_payloads_stay_under_postgres_limit() -> None:
    written = {("observations", f"project-{i:04d}"): set(range(20_000 + i, 20_030 + i)) for i in range(300)}
    written[("traces", "busy")] = set(range(1000))  # a replay of years: "every day"
    payloads = encode_written(written)
    assert len(payloads) > 1
    assert all(len(p.encode()) < 8000 for p in payloads)
    decoded = [item for p in payloads for item in decode_written(p)]
    assert {(t, p): (set(d) if d is not None else None) for t, p, d in decoded} == {
        **{k: v for k, v in written.items() if k[0] == "observations"},
        ("traces", "busy"): None,
    }


def test_a_change_during_a_query_keeps_its_rows_out() -> None:
    cache = DayCache(1000)
    cache.listening(True)
    token = cache.begin()
    cache.on_written(encode_written({("observations", "p"): {100}})[0])
    cache.put("observations", "shape", "p", 100, [{"a": 1}], token)  # computed before the write
    cache.put("observations", "shape", "p", 101, [{"a": 2}], token)  # another day: fine
    assert cache.get("shape", "p", 100) is None
    assert cache.get("shape", "p", 101) == [{"a": 2}]
    cache.listening(False)  # announcements may be lost from here: nothing is served or kept
    assert cache.get("shape", "p", 101) is None
    cache.put("observations", "shape", "p", 101, [{"a": 2}], cache.begin())
    cache.listening(True)
    assert cache.get("shape", "p", 101) is None


# -- end to end: real OTel exporter, real worker, real announcements ---------------------------


def _emit(harness: Harness, keys: ProjectKeys, start: datetime, tokens: int, count: int) -> str:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider()
    exporter = OTLPSpanExporter(endpoint=f"{harness.url}/api/public/otel/v1/traces", headers=keys.headers)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("by-day")
    ns = int(start.timestamp() * 1e9)
    root = tracer.start_span("root", start_time=ns)
    trace_id = format(root.get_span_context().trace_id, "032x")
    from opentelemetry import trace

    ctx = trace.set_span_in_context(root)
    for i in range(count):
        span = tracer.start_span(f"llm-{i}", context=ctx, start_time=ns + 1000)
        span.set_attribute("langfuse.observation.type", "generation")
        span.set_attribute("gen_ai.request.model", "by-day-model")
        span.set_attribute("gen_ai.usage.input_tokens", tokens)
        span.set_attribute("gen_ai.usage.output_tokens", 0)
        span.end(end_time=ns + 2_000_000)
    root.end(end_time=ns + 3_000_000)
    provider.shutdown()
    return trace_id


async def _tokens_on(harness: Harness, keys: ProjectKeys, query: dict[str, Any], day: str) -> tuple[int, int]:
    for row in await metrics(harness, keys, query):
        if row["time_dimension"] == day and row["providedModelName"] == "by-day-model":
            return int(row["count_count"]), int(row["sum_totalTokens"])
    return 0, 0


async def _until(harness: Harness, keys: ProjectKeys, query: dict[str, Any], day: str, want: tuple[int, int]) -> None:
    deadline = time.monotonic() + 15
    got = await _tokens_on(harness, keys, query, day)
    while got != want:
        assert time.monotonic() < deadline, f"metrics for {day} stayed {got}, expected {want}"
        await asyncio.sleep(0.1)
        got = await _tokens_on(harness, keys, query, day)


async def test_writes_and_deletes_reach_cached_days(stack: Harness) -> None:
    cache = await live_cache(stack)
    keys = await stack.new_project()
    now = datetime.now(UTC)
    past = (now - timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    day = past.date().isoformat()
    query = _q(
        "observations",
        [("count", "count"), ("totalTokens", "sum")],
        ["providedModelName"],
        from_=(now - timedelta(days=7)).isoformat(),
        to=now.isoformat(),
    )
    first_trace = await asyncio.to_thread(_emit, stack, keys, past, 10, 2)
    await stack.wait_idle()
    await _until(stack, keys, query, day, (2, 20))
    hits = cache.hits
    assert await _tokens_on(stack, keys, query, day) == (2, 20)
    assert cache.hits > hits  # the past day now comes from the cache

    # New rows on that cached day: the worker's announcement must drop it.
    await asyncio.to_thread(_emit, stack, keys, past + timedelta(hours=3), 7, 1)
    await stack.wait_idle()
    await _until(stack, keys, query, day, (3, 27))

    # A delete is seen by the very next query of this process.
    assert await _tokens_on(stack, keys, query, day) == (3, 27)
    async with __import__("aiohttp").ClientSession(headers=keys.headers) as http:
        async with http.delete(f"{stack.url}/api/public/traces/{first_trace}") as resp:
            assert resp.status == 200
    assert await _tokens_on(stack, keys, query, day) == (1, 7)


async def test_a_lost_listener_stops_the_cache_until_it_is_back(spyglass: Harness, loaded: Loaded) -> None:
    cache = await live_cache(spyglass)
    query = CASES[0][2]
    await metrics(spyglass, loaded.keys, query)
    await metrics(spyglass, loaded.keys, query)
    assert cache.hits > 0
    # Kill the cache's listening connection from the server side, as a PostgreSQL restart
    # would (its last statement is the LISTEN of the written-rows channel).
    killed = await spyglass.stores.pg.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE pid <> pg_backend_pid() AND query LIKE '%spyglass_rows_written%'"
    )
    assert killed >= 1
    deadline = time.monotonic() + 10
    while cache.enabled:  # notices the loss and forgets everything
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    assert cache.get("v1:anything", loaded.keys.project_id, 20157) is None
    await live_cache(spyglass)  # listening again after the reconnect delay
    expected = await whole_query(spyglass, loaded.keys, query, "v1")
    assert await metrics(spyglass, loaded.keys, query) == expected


def test_bounded_by_rows_and_dropped_per_table_and_day() -> None:
    cache = DayCache(100)
    cache.listening(True)
    token = cache.begin()
    for day in range(50):
        cache.put("observations", "obs", "p", day, [{"n": day}] * 3, token)
    cache.put("traces", "tr", "p", 49, [{"n": 0}], token)
    kept = [day for day in range(50) if cache.get("obs", "p", day) is not None]
    assert kept == list(range(17, 50))  # the oldest went: 33 days × 3 rows + 1 traces row = 100
    cache.on_written(encode_written({("observations", "p"): {49}, ("observations", "other"): {48}})[0])
    assert cache.get("obs", "p", 49) is None
    assert cache.get("tr", "p", 49) == [{"n": 0}]  # a traces entry of that day is unaffected
    assert cache.get("obs", "p", 48) is not None  # another project's write
    cache.on_project_changed("p")
    assert cache.get("obs", "p", 48) is None and cache.get("tr", "p", 49) is None
