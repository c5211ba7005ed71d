from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.harness import Harness, wait_until_async


async def test_update_after_delete_never_revives_deleted_content(spyglass: Harness) -> None:
    """The worker caches rows it wrote to merge updates into them; a delete must reach it."""
    keys = await spyglass.new_project()
    trace_id = "f" * 32

    def span(name: str, payload: Any) -> None:
        from langfuse import Langfuse

        lf = Langfuse(public_key=keys.public_key, secret_key=keys.secret_key, base_url=spyglass.url)
        # A span given a trace context is that trace's root: its input becomes the trace's input.
        with lf.start_as_current_observation(name=name, input=payload, trace_context={"trace_id": trace_id}):
            pass
        lf.flush()

    await asyncio.to_thread(span, "first", "SECRET")
    await spyglass.wait_idle()
    async with aiohttp.ClientSession() as http:
        url = f"{spyglass.url}/api/public/traces/{trace_id}"
        async with http.get(url, headers=keys.headers) as r:
            assert (await r.json())["input"] == "SECRET"
        cached = spyglass.worker.processor.traces
        assert (keys.project_id, trace_id) in cached  # what the delete must make the worker forget
        async with http.delete(url, headers=keys.headers) as r:
            assert r.status == 200
        await wait_until_async(  # the notification reaches the worker
            lambda: (keys.project_id, trace_id) not in cached, timeout=10, what="the worker forgetting the trace"
        )
        await asyncio.to_thread(span, "late", None)
        await spyglass.wait_idle()
        async with http.get(url, headers=keys.headers) as r:
            body = await r.json()
    assert r.status == 200, body  # data sent after a delete shows again, as in Langfuse
    assert body["input"] != "SECRET"
    assert [o["name"] for o in body["observations"]] == ["late"]
