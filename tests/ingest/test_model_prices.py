from __future__ import annotations

import asyncio
import time

import aiohttp

from tests.harness import Harness, wait_until_async


async def _generation(spyglass: Harness, keys, model: str) -> str:  # type: ignore[no-untyped-def]
    def run() -> str:
        from langfuse import Langfuse

        lf = Langfuse(public_key=keys.public_key, secret_key=keys.secret_key, base_url=spyglass.url)
        with lf.start_as_current_observation(name="g", as_type="generation", model=model) as gen:
            gen.update(usage_details={"input": 1000, "output": 500})
            trace_id = lf.get_current_trace_id()
        lf.flush()
        return trace_id

    trace_id = await asyncio.to_thread(run)
    await spyglass.wait_idle()
    return trace_id


async def _cost(spyglass: Harness, pid: str, trace_id: str) -> float | None:
    rows = await spyglass.stores.ch.rows(
        "SELECT total_cost FROM observations WHERE project_id = {p:String} AND trace_id = {t:String}",
        {"p": pid, "t": trace_id},
    )
    return rows[0]["total_cost"]


async def test_a_new_project_model_prices_new_data_at_once(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    model = f"in-house-llm-{time.time_ns()}"
    before = await _generation(spyglass, keys, model)
    assert await _cost(spyglass, keys.project_id, before) is None  # unknown model: no cost
    body = {
        "modelName": model,
        "matchPattern": f"(?i)^{model}$",
        "unit": "TOKENS",
        "inputPrice": 0.001,
        "outputPrice": 0.002,
    }
    matcher = spyglass.worker.processor.matcher
    assert matcher.has_project(keys.project_id)  # loaded for `before`: the NOTIFY must drop them
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{spyglass.url}/api/public/models", json=body, headers=keys.headers) as r:
            assert r.status in (200, 201), await r.text()
    await wait_until_async(  # the NOTIFY reaches the worker's listener
        lambda: not matcher.has_project(keys.project_id), timeout=10, what="the worker dropping the project's models"
    )
    after = await _generation(spyglass, keys, model)
    cost = await _cost(spyglass, keys.project_id, after)
    assert cost is not None and abs(float(cost) - (1000 * 0.001 + 500 * 0.002)) < 1e-9
    # data ingested before the model existed keeps its (absent) cost: prices apply to new data
    assert await _cost(spyglass, keys.project_id, before) is None
