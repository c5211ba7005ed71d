"""POST /api/public/ingestion, /scores and the deprecated writers: real SDKs and bad input."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from tests.harness import Harness
from tests.legacy_sdk import run_legacy


async def _latest(h: Harness, table: str, pid: str) -> dict[str, dict[str, Any]]:
    rows = await h.stores.ch.rows(
        f"SELECT * FROM {table} WHERE project_id = {{p:String}} ORDER BY event_ts DESC LIMIT 1 BY id", {"p": pid}
    )
    return {r["id"]: r for r in rows if not r["is_deleted"]}


@pytest.mark.slow
async def test_legacy_v2_sdk_low_level_and_decorators(stack: Harness) -> None:
    keys = await stack.new_project()
    script = """
        import json
        from langfuse import Langfuse
        from langfuse.decorators import observe, langfuse_context
        lf = Langfuse()
        trace = lf.trace(id="custom-trace-1", name="v2-trace", user_id="u-2", session_id="s-2", tags=["x"],
                         metadata={"a": 1})
        span = trace.span(id="span-1", name="retrieve", input={"q": "hello"})
        span.end(output=["doc1", "doc2"])
        gen = trace.generation(id="gen-1", name="answer", model="gpt-4o", model_parameters={"temperature": "0.2"},
                               input=[{"role": "user", "content": "hi"}],
                               usage={"input": 30, "output": 10, "unit": "TOKENS"})
        gen.end(output="hello there")
        trace.update(output={"final": True}, metadata={"b": 2}, tags=["y"])
        trace.event(name="cache-hit", input="k")
        trace.score(name="helpful", value=1)

        @observe()
        def inner(x):
            return x + 1

        @observe(name="outer-fn")
        def outer():
            langfuse_context.update_current_trace(name="decorated", user_id="u-3")
            return inner(1)

        outer()
        decorated_trace = langfuse_context.get_current_trace_id()
        langfuse_context.flush()
        lf.flush()
        print(json.dumps({"ok": True}))
    """
    out = await asyncio.to_thread(
        run_legacy, script, host=stack.url, public_key=keys.public_key, secret_key=keys.secret_key
    )
    assert out["ok"]
    await stack.wait_idle()
    traces = await _latest(stack, "traces", keys.project_id)
    t = traces["custom-trace-1"]
    assert t["name"] == "v2-trace" and t["user_id"] == "u-2" and t["session_id"] == "s-2"
    assert t["tags"] == ["x", "y"]
    assert t["metadata"]["a"] == "1" and t["metadata"]["b"] == "2"
    assert json.loads(t["output"]) == {"final": True}
    obs = await _latest(stack, "observations", keys.project_id)
    assert obs["span-1"]["type"] == "SPAN" and json.loads(obs["span-1"]["output"]) == ["doc1", "doc2"]
    assert obs["span-1"]["end_time"] is not None
    gen = obs["gen-1"]
    assert gen["type"] == "GENERATION" and gen["output"] == "hello there"
    assert gen["usage_details"] == {"input": 30, "output": 10, "total": 40}
    assert float(gen["total_cost"]) > 0
    assert any(o["type"] == "EVENT" and o["name"] == "cache-hit" for o in obs.values())
    decorated = [t for t in traces.values() if t["name"] == "decorated"]
    assert decorated and decorated[0]["user_id"] == "u-3"
    # In SDK v2 the outermost @observe is the trace itself; nested calls are its spans.
    names = {o["name"] for o in obs.values() if o["trace_id"] == decorated[0]["id"]}
    assert names == {"inner"}
    scores = await _latest(stack, "scores", keys.project_id)
    assert [s["name"] for s in scores.values()] == ["helpful"]


async def test_batch_with_bad_events_keeps_the_good_ones(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    now = datetime.now(UTC).isoformat()
    good_trace = str(uuid.uuid4())
    batch = {
        "batch": [
            {"id": "e1", "type": "trace-create", "timestamp": now, "body": {"id": good_trace, "name": "ok"}},
            {"id": "e2", "type": "trace-create", "timestamp": "yesterday", "body": {"id": "t2"}},
            {"id": "e3", "type": "no-such-type", "timestamp": now, "body": {}},
            {
                "id": "e4",
                "type": "score-create",
                "timestamp": now,
                "body": {"name": "s", "value": "x", "dataType": "NUMERIC", "traceId": "t"},
            },
            {
                "id": "e5",
                "type": "span-create",
                "timestamp": now,
                "body": {"id": "sp-1", "traceId": good_trace, "name": "child"},
            },
            {"id": "e6", "type": "sdk-log", "timestamp": now, "body": {"log": "hello"}},
        ]
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{spyglass.url}/api/public/ingestion", json=batch, headers=keys.headers) as r:
            assert r.status == 207
            body = await r.json()
    assert sorted(s["id"] for s in body["successes"]) == ["e1", "e5", "e6"]
    assert all(s["status"] == 201 for s in body["successes"])
    errors = {e["id"]: e for e in body["errors"]}
    assert set(errors) == {"e2", "e3", "e4"}
    assert all(e["status"] == 400 and e["message"] for e in errors.values())
    assert "timestamp" in errors["e2"]["message"]
    await spyglass.wait_idle()
    assert list(await _latest(spyglass, "traces", keys.project_id)) == [good_trace]
    obs = await _latest(spyglass, "observations", keys.project_id)
    assert obs["sp-1"]["trace_id"] == good_trace


async def test_not_a_batch_is_400(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    async with aiohttp.ClientSession() as http:
        for payload in (b"[1,2]", b"{nope", b'{"batch": 3}'):
            async with http.post(
                f"{spyglass.url}/api/public/ingestion",
                data=payload,
                headers={**keys.headers, "Content-Type": "application/json"},
            ) as r:
                assert r.status == 400
                assert "batch" in (await r.json())["message"] or "JSON" in (await r.json())["message"]


async def test_scores_endpoint_shapes(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    async with aiohttp.ClientSession() as http:
        url = f"{spyglass.url}/api/public/scores"
        async with http.post(url, json={"traceId": "t1", "name": "single", "value": 0.5}, headers=keys.headers) as r:
            assert r.status == 200
            single_id = (await r.json())["id"]
        array = [
            {"id": "s-a", "traceId": "t1", "name": "arr", "value": "good"},
            {"id": "s-b", "traceId": "t1", "name": "bool", "value": 1, "dataType": "BOOLEAN"},
        ]
        async with http.post(url, json=array, headers=keys.headers) as r:
            assert r.status == 202
        mixed = [
            {"id": "s-c", "traceId": "t1", "name": "ok", "value": 1},
            {"id": "s-d", "traceId": "t1", "name": "bad", "value": "x", "dataType": "NUMERIC"},
        ]
        async with http.post(url, json=mixed, headers=keys.headers) as r:
            assert r.status == 207
            out = await r.json()
            assert out["accepted"] == 1 and out["rejected"] == 1
        # browser feedback: the public key alone may write scores, nothing else
        pk_only = aiohttp.BasicAuth(keys.public_key, "")
        async with http.post(url, json={"traceId": "t1", "name": "thumbs", "value": 1}, auth=pk_only) as r:
            assert r.status == 200
        async with http.get(f"{spyglass.url}/api/public/projects", auth=pk_only) as r:
            assert r.status == 401
    await spyglass.wait_idle()
    scores = await _latest(spyglass, "scores", keys.project_id)
    by_name = {s["name"]: s for s in scores.values()}
    assert set(by_name) == {"single", "arr", "bool", "ok", "thumbs"}
    assert by_name["single"]["id"] == single_id
    assert by_name["arr"]["data_type"] == "CATEGORICAL" and by_name["arr"]["string_value"] == "good"
    assert by_name["bool"]["string_value"] == "True"


async def test_deprecated_writers_return_ids(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    async with aiohttp.ClientSession() as http:
        base = f"{spyglass.url}/api/public"
        async with http.post(f"{base}/traces", json={"id": "dt-1", "name": "old"}, headers=keys.headers) as r:
            assert r.status == 200 and (await r.json())["id"] == "dt-1"
        async with http.post(
            f"{base}/generations", json={"traceId": "dt-1", "name": "g", "model": "gpt-4o"}, headers=keys.headers
        ) as r:
            gen_id = (await r.json())["id"]
        async with http.patch(
            f"{base}/generations", json={"generationId": gen_id, "output": "done"}, headers=keys.headers
        ) as r:
            assert r.status == 200
    await spyglass.wait_idle()
    obs = await _latest(spyglass, "observations", keys.project_id)
    assert obs[gen_id]["output"] == "done" and obs[gen_id]["type"] == "GENERATION"
