"""End to end with the real Langfuse SDK: trace and score as a user does, read everything back."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.harness import Harness
from tests.read_api import contract
from tests.read_api.conftest import Api


@pytest.fixture
async def traced(spyglass: Harness, api: Api) -> dict[str, Any]:
    keys = api.keys

    def run() -> dict[str, Any]:
        from langfuse import Langfuse, propagate_attributes

        lf = Langfuse(public_key=keys.public_key, secret_key=keys.secret_key, base_url=spyglass.url)
        with lf.start_as_current_observation(name="pipeline", as_type="span", input={"q": "6x7?"}) as root:
            trace_id = lf.get_current_trace_id()
            with propagate_attributes(user_id="rt-user", session_id="rt-session", tags=["rt"]):
                with lf.start_as_current_observation(
                    name="llm", as_type="generation", model="gpt-4o-mini", model_parameters={"temperature": 0.1}
                ) as gen:
                    gen.update(output="42", usage_details={"input": 11, "output": 7})
                    generation_id = gen.id
            root.update(output="done")
        lf.create_score(trace_id=trace_id, name="quality", value=0.8)
        lf.create_score(trace_id=trace_id, observation_id=generation_id, name="ok", value=1, data_type="BOOLEAN")
        lf.flush()
        lf.shutdown()
        return {"trace_id": trace_id, "generation_id": generation_id}

    ids = await asyncio.to_thread(run)
    await spyglass.wait_idle()
    return ids


async def test_sdk_traces_read_back_through_every_endpoint(api: Api, traced: dict[str, Any]) -> None:
    trace_id, gen_id = traced["trace_id"], traced["generation_id"]

    listed = contract.parse(contract.Traces, await api.ok("/api/public/traces", {"userId": "rt-user"}))
    (item,) = listed.data
    assert item.id == trace_id and item.session_id == "rt-session" and item.tags == ["rt"]
    assert len(item.observations) == 2 and len(item.scores) == 2 and item.latency >= 0

    detail = contract.parse(contract.TraceWithFullDetails, await api.ok(f"/api/public/traces/{trace_id}"))
    by_name = {o.name: o for o in detail.observations}
    assert set(by_name) == {"pipeline", "llm"}
    llm = by_name["llm"]
    assert llm.id == gen_id and llm.type == "GENERATION" and llm.model == "gpt-4o-mini"
    assert llm.usage_details is not None and llm.usage_details.get("input") == 11
    assert llm.parent_observation_id == by_name["pipeline"].id
    assert {s.name for s in detail.scores} == {"quality", "ok"}
    assert detail.total_cost == pytest.approx(sum(o.calculated_total_cost or 0 for o in detail.observations))

    client = api.sdk()
    v2 = await client.observations.get_many(trace_id=trace_id, fields="core,basic,usage,model")
    assert {o.id for o in v2.data} == {gen_id, by_name["pipeline"].id}
    assert all(o.user_id == "rt-user" for o in v2.data)
    scores = await client.scores.get_many(trace_id=trace_id, fields="subject")
    by_score = {s.name: s for s in scores.data}
    assert by_score["ok"].value is True and by_score["ok"].subject.kind == "observation"
    assert by_score["quality"].value == pytest.approx(0.8)

    session = contract.parse(contract.SessionWithTraces, await api.ok("/api/public/sessions/rt-session"))
    assert [t.id for t in session.traces] == [trace_id]

    await client.trace.delete(trace_id)
    assert (await api.get(f"/api/public/traces/{trace_id}"))[0] == 404
    assert (await client.observations.get_many(trace_id=trace_id)).data == []
    assert (await client.scores.get_many(trace_id=trace_id)).data == []


async def test_a_second_service_joins_a_trace_under_an_observation(spyglass: Harness, api: Api) -> None:
    """Distributed tracing: service B continues service A's trace with `trace_context` naming A's
    observation; B's span reads back nested under it (it used to read back as a root)."""
    keys = api.keys

    def run() -> dict[str, str]:
        from langfuse import Langfuse

        lf = Langfuse(public_key=keys.public_key, secret_key=keys.secret_key, base_url=spyglass.url)
        with lf.start_as_current_observation(name="service-a", as_type="span") as a:
            trace_id, a_id = lf.get_current_trace_id(), a.id
        context = {"trace_id": trace_id, "parent_span_id": a_id}
        with lf.start_as_current_observation(name="service-b", as_type="span", trace_context=context) as b:
            b_id = b.id
        lf.flush()
        lf.shutdown()
        return {"trace": trace_id or "", "a": a_id, "b": b_id}

    ids = await asyncio.to_thread(run)
    await spyglass.wait_idle()
    trace = contract.parse(contract.TraceWithFullDetails, await api.ok(f"/api/public/traces/{ids['trace']}"))
    parents = {o.id: o.parent_observation_id for o in trace.observations}
    assert parents == {ids["a"]: None, ids["b"]: ids["a"]}
    # The SDK's own client (langfuse 5 reads observations through v2 only).
    v2 = await api.sdk().observations.get_many(trace_id=ids["trace"], fields="core,basic")
    assert {o.id: o.parent_observation_id for o in v2.data} == parents
