"""Generations that report no usage get it counted from their text (OpenAI-family models), through
the real SDK's OTLP export and through legacy /api/public/ingestion updates."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp

from spyglass.collector.pricing.encodings import encoding
from spyglass.collector.worker.map_pool import PayloadMapper
from spyglass.collector.worker.merge import RowProcessor, _Batch
from spyglass.collector.worker.price import INFERRED_USAGE_KEY
from spyglass.store.clickhouse.rows import ObservationRow
from tests.harness import Harness, ProjectKeys

MESSAGES = [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Hello there!", "name": "bob"},
]
ANSWER = "Hi! How can I help you today?"
# o200k_base (gpt-4o): 3 priming + (3 + 1 + 4) + (3 + 1 + 3 + 1 + 1) = 20; the answer is 9 tokens.
INPUT_TOKENS, OUTPUT_TOKENS = 20, 9
GPT_4O = {"input": 2.5e-6, "output": 1e-5}  # USD per token, the built-in default tier


async def _observation(spyglass: Harness, keys: ProjectKeys, observation_id: str) -> dict[str, Any]:
    async with aiohttp.ClientSession(headers=keys.headers) as http:
        for _ in range(100):
            async with http.get(f"{spyglass.url}/api/public/observations/{observation_id}") as r:
                if r.status == 200:
                    return dict(await r.json())
            await asyncio.sleep(0.1)
    raise AssertionError(f"observation {observation_id} never showed")


async def test_sdk_generations_without_usage_are_counted_and_priced(spyglass: Harness) -> None:
    keys = await spyglass.new_project()

    def run() -> dict[str, str]:
        from langfuse import Langfuse

        lf = Langfuse(public_key=keys.public_key, secret_key=keys.secret_key, base_url=spyglass.url)
        ids = {}
        with lf.start_as_current_observation(name="root"):
            for name, model, usage in (
                ("inferred", "gpt-4o", None),
                ("reported", "gpt-4o", {"input": 1000, "output": 500}),
                ("claude", "claude-3-5-sonnet-20241022", None),
                ("unknown", "my-local-model", None),
            ):
                with lf.start_as_current_observation(name=name, as_type="generation", model=model) as gen:
                    gen.update(input=MESSAGES, output=ANSWER)
                    if usage:
                        gen.update(usage_details=usage)
                    ids[name] = gen.id
        lf.flush()
        return ids

    ids = await asyncio.to_thread(run)
    await spyglass.wait_idle()
    inferred = await _observation(spyglass, keys, ids["inferred"])
    assert inferred["usageDetails"] == {"input": INPUT_TOKENS, "output": OUTPUT_TOKENS, "total": 29}
    cost = INPUT_TOKENS * GPT_4O["input"] + OUTPUT_TOKENS * GPT_4O["output"]
    assert abs(inferred["costDetails"]["total"] - cost) < 1e-12
    assert inferred["metadata"][INFERRED_USAGE_KEY].startswith("inferred from input/output text with tiktoken o200k")

    reported = await _observation(spyglass, keys, ids["reported"])
    assert reported["usageDetails"] == {"input": 1000, "output": 500, "total": 1500}
    assert INFERRED_USAGE_KEY not in reported["metadata"]
    for name in ("claude", "unknown"):
        other = await _observation(spyglass, keys, ids[name])
        assert other["usageDetails"] == {}, name
        assert other["costDetails"] == {}, name
        assert INFERRED_USAGE_KEY not in other["metadata"], name


async def _ingest(spyglass: Harness, keys: ProjectKeys, events: list[dict[str, Any]]) -> None:
    now = datetime.now(UTC).isoformat()
    batch = {"batch": [{"id": str(uuid.uuid4()), "timestamp": now, **event} for event in events]}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{spyglass.url}/api/public/ingestion", json=batch, headers=keys.headers) as r:
            assert r.status == 207, await r.text()
            assert all(item["status"] in (200, 201) for item in (await r.json())["successes"])
    await spyglass.wait_idle()


async def test_legacy_updates_count_the_merged_text_until_usage_is_reported(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    gen_id, trace_id = str(uuid.uuid4()), str(uuid.uuid4())
    body = {"id": gen_id, "traceId": trace_id, "name": "legacy", "model": "gpt-4o", "input": MESSAGES}
    await _ingest(spyglass, keys, [{"type": "generation-create", "body": body}])
    created = await _observation(spyglass, keys, gen_id)
    assert created["usageDetails"] == {"input": INPUT_TOKENS, "total": INPUT_TOKENS}

    # The output arrives in an update: the merged row is counted again, input and output.
    await _ingest(spyglass, keys, [{"type": "generation-update", "body": {"id": gen_id, "output": ANSWER}}])
    for _ in range(50):
        updated = await _observation(spyglass, keys, gen_id)
        if "output" in updated["usageDetails"]:
            break
        await asyncio.sleep(0.1)
    assert updated["usageDetails"] == {"input": INPUT_TOKENS, "output": OUTPUT_TOKENS, "total": 29}
    assert INFERRED_USAGE_KEY in updated["metadata"]

    # Usage the client reports replaces what was inferred.
    update = {"id": gen_id, "usageDetails": {"input": 7, "output": 3}}
    await _ingest(spyglass, keys, [{"type": "generation-update", "body": update}])
    for _ in range(50):
        reported = await _observation(spyglass, keys, gen_id)
        if reported["usageDetails"].get("input") == 7:
            break
        await asyncio.sleep(0.1)
    assert reported["usageDetails"] == {"input": 7, "output": 3, "total": 10}
    assert INFERRED_USAGE_KEY not in reported["metadata"]
    assert abs(reported["costDetails"]["total"] - (7 * GPT_4O["input"] + 3 * GPT_4O["output"])) < 1e-12


async def test_pricing_a_long_legacy_batch_leaves_the_event_loop_free(spyglass: Harness) -> None:
    """Counting a row's tokens takes milliseconds when its text is long: the worker must yield
    while it prices a legacy batch, not only every 500 rows."""
    processor = RowProcessor(spyglass.stores.ch, mapper=PayloadMapper(0))
    prose = "Refund ORD-2024-118734 (€129.99) if it shipped < 30 days ago; else offer credit, naïvely. "
    batch = _Batch()
    for n in range(200):  # unique texts, so none is counted from the cache
        row = ObservationRow(
            id=f"g{n}", trace_id="t", project_id="p", type="GENERATION", provided_model_name="gpt-4o",
            input=f"{n} " + prose * 600, output=f"{n} " + prose * 50,
        )  # fmt: skip
        batch.observations[("p", row.id)] = row
        batch.unpriced.add(("p", row.id))
    gaps: list[float] = []

    async def ticker() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    # Loading the encoding is a one-off pause of its own (~0.25 s, once per process): not this.
    assert encoding("o200k_base") is not None
    watching = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    began = time.perf_counter()
    await processor._price(batch)
    took = time.perf_counter() - began
    watching.cancel()
    assert all(row.usage_details.get("input", 0) > 10_000 for row in batch.observations.values())
    assert took > 0.2, took  # long enough for the check below to mean something
    longest = max(gaps, default=took)  # no gap at all: the loop never ran while pricing
    assert longest < 0.1, (longest, took)
