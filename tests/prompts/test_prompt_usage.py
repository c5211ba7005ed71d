"""Generations linked to prompt versions: id lookup for the worker and per-version metrics."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from spyglass.collector.worker.encode import json_each_row
from spyglass.query.prompts import resolve_prompt_id, resolve_prompt_ids
from spyglass.store.clickhouse.rows import ObservationRow, ScoreRow
from tests.harness import Harness, ProjectKeys
from tests.prompts.support import Api, langfuse_client

PROMPTS = "/api/public/v2/prompts"


def _generation(
    pid: str, n: int, version: int, *, latency: float, tokens: tuple[int, int], cost: float
) -> ObservationRow:
    start = time.time() - 60 + n
    return ObservationRow(
        id=f"gen-{version}-{n}",
        trace_id=f"trace-{version}-{n}",
        project_id=pid,
        type="GENERATION",
        start_time=start,
        end_time=start + latency,
        name="llm",
        usage_details={"input": tokens[0], "output": tokens[1], "total": sum(tokens)},
        total_cost=cost,
        prompt_name="usage",
        prompt_version=version,
        created_at=start,
        updated_at=start,
        event_ts=start,
    )


async def test_version_metrics_from_linked_generations(spyglass: Harness, keys: ProjectKeys, api: Api) -> None:
    pid = keys.project_id
    await api.post(PROMPTS, {"name": "usage", "prompt": "v1"})
    await api.post(PROMPTS, {"name": "usage", "prompt": "v2"})
    await api.post(PROMPTS, {"name": "usage", "prompt": "v3"})
    rows = [
        _generation(pid, 0, 1, latency=1.0, tokens=(10, 5), cost=0.01),
        _generation(pid, 1, 1, latency=3.0, tokens=(30, 15), cost=0.03),
        _generation(pid, 2, 1, latency=2.0, tokens=(20, 10), cost=0.02),
        _generation(pid, 3, 2, latency=0.5, tokens=(7, 3), cost=0.005),
    ]
    now = time.time()
    scores = [
        ScoreRow(
            id=f"s-{i}",
            project_id=pid,
            timestamp=now,
            name="quality",
            value=v,
            trace_id=f"trace-1-{i}",
            event_ts=now,
            created_at=now,
            updated_at=now,
        )
        for i, v in enumerate((0.2, 0.8, 0.6))
    ]
    await spyglass.stores.ch.insert_json("observations", json_each_row(rows))
    await spyglass.stores.ch.insert_json("scores", json_each_row(scores))

    reply = await api.get(f"{PROMPTS}/usage/versions")
    assert reply.status == 200
    by_version = {v["version"]: v for v in reply.body["data"]}
    assert list(by_version) == [3, 2, 1]
    m1 = by_version[1]["metrics"]
    assert m1["generationCount"] == 3
    assert abs(m1["medianLatencySeconds"] - 2.0) < 0.05
    assert m1["medianInputTokens"] == 20 and m1["medianOutputTokens"] == 10 and m1["medianTotalTokens"] == 30
    assert abs(m1["totalCost"] - 0.06) < 1e-9 and abs(m1["medianCost"] - 0.02) < 1e-6
    assert m1["scores"]["quality"]["count"] == 3 and abs(m1["scores"]["quality"]["median"] - 0.6) < 0.05
    assert m1["firstGenerationAt"] < m1["lastGenerationAt"]
    assert by_version[2]["metrics"]["generationCount"] == 1 and by_version[2]["metrics"]["scores"] == {}
    assert by_version[3]["metrics"]["generationCount"] == 0
    assert (await api.get(f"{PROMPTS}/unknown/versions")).status == 404


async def test_prompt_id_lookup_for_the_worker(spyglass: Harness, keys: ProjectKeys, api: Api) -> None:
    pid = keys.project_id
    first = (await api.post(PROMPTS, {"name": "linked", "prompt": "a"})).body
    second = (await api.post(PROMPTS, {"name": "linked", "prompt": "b"})).body
    pool = spyglass.stores.pg
    assert await resolve_prompt_id(pool, pid, "linked", 1) == first["id"]
    found = await resolve_prompt_ids(pool, pid, [("linked", 1), ("linked", 2), ("linked", 3), ("other", 1)])
    assert found == {("linked", 1): first["id"], ("linked", 2): second["id"]}
    other = await spyglass.new_project()
    assert await resolve_prompt_id(pool, other.project_id, "linked", 1) is None
    # Version numbers can be reused after a delete; the lookup must follow.
    assert (await api.delete(f"{PROMPTS}/linked", version=2)).status == 204
    again = (await api.post(PROMPTS, {"name": "linked", "prompt": "c"})).body
    assert again["version"] == 2 and again["id"] != second["id"]
    assert await resolve_prompt_id(pool, pid, "linked", 2) == again["id"]


async def test_sdk_generation_with_a_prompt_counts_for_that_version(
    spyglass: Harness, keys: ProjectKeys, api: Api
) -> None:
    def run() -> None:
        lf = langfuse_client(spyglass, keys)
        lf.create_prompt(name="traced", prompt="Say {{x}}", labels=["production"])
        prompt = lf.get_prompt("traced", cache_ttl_seconds=0)
        with lf.start_as_current_observation(name="call", as_type="generation", prompt=prompt, model="gpt-4o") as g:
            g.update(output="ok", usage_details={"input": 4, "output": 2})
        lf.flush()
        lf.shutdown()

    await asyncio.to_thread(run)
    await spyglass.wait_idle()
    metrics: dict[str, Any] = {}
    for _ in range(50):  # the worker commits asynchronously after the queue drains
        data = (await api.get(f"{PROMPTS}/traced/versions")).body["data"]
        metrics = data[0]["metrics"]
        if metrics["generationCount"]:
            break
        await asyncio.sleep(0.1)
    assert metrics["generationCount"] == 1
    assert metrics["medianInputTokens"] == 4
