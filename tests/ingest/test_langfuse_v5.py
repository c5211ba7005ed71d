"""The latest Langfuse Python SDK, used as a user would, against a running Spyglass."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.harness import Harness, ProjectKeys


def _client(spyglass: Harness, keys: ProjectKeys) -> Any:
    from langfuse import Langfuse

    return Langfuse(public_key=keys.public_key, secret_key=keys.secret_key, base_url=spyglass.url)


async def _rows(spyglass: Harness, table: str, pid: str, where: str = "", **params: Any) -> list[dict[str, Any]]:
    return await spyglass.stores.ch.rows(
        f"SELECT * FROM {table} WHERE project_id = {{p:String}} {where} ORDER BY event_ts DESC LIMIT 1 BY id",
        {"p": pid, **params},
    )


@pytest.fixture(scope="module")
async def traced(stack: Harness) -> dict[str, Any]:
    spyglass = stack
    keys = await spyglass.new_project()

    def run() -> dict[str, Any]:
        from langfuse import observe, propagate_attributes

        lf = _client(spyglass, keys)

        @observe(name="tool-call", as_type="tool")
        def tool(x: int) -> int:
            return x * 2

        seen: dict[str, str | None] = {}

        @observe(name="pipeline")
        def pipeline(question: str) -> str:
            seen["trace_id"] = lf.get_current_trace_id()
            with propagate_attributes(user_id="user-7", session_id="sess-1", tags=["a", "b"], metadata={"team": "x"}):
                with lf.start_as_current_observation(
                    name="llm",
                    as_type="generation",
                    model="gpt-4o-mini",
                    input=[{"role": "user", "content": question}],
                    model_parameters={"temperature": 0.2},
                ) as gen:
                    gen.update(output="forty-two", usage_details={"input": 100, "output": 20})
                tool(21, langfuse_public_key=keys.public_key)
                lf.score_current_trace(name="quality", value=0.9)
                lf.score_current_trace(name="verdict", value="good")
                lf.score_current_trace(name="ok", value=1, data_type="BOOLEAN")
            return "done"

        # Several SDK clients live in this process (one per test project), so decorated calls
        # name theirs, as the SDK asks multi-project users to.
        pipeline("what is six times seven?", langfuse_public_key=keys.public_key)
        trace_id = seen["trace_id"]
        with lf.start_as_current_observation(name="fails", as_type="span") as span:
            span.update(level="ERROR", status_message="boom")
            failing_trace = lf.get_current_trace_id()
        lf.flush()
        lf.shutdown()
        return {"trace_id": trace_id, "failing_trace": failing_trace}

    ids = await asyncio.to_thread(run)
    await spyglass.wait_idle()
    return {"keys": keys, **ids}


async def test_observations_of_a_decorated_pipeline(stack: Harness, traced: dict[str, Any]) -> None:
    pid = traced["keys"].project_id
    obs = await _rows(stack, "observations", pid)
    by_name = {o["name"]: o for o in obs}
    assert {"pipeline", "llm", "tool-call", "fails"} <= set(by_name)
    gen = by_name["llm"]
    assert gen["type"] == "GENERATION"
    assert gen["provided_model_name"] == "gpt-4o-mini"
    assert gen["usage_details"] == {"input": 100, "output": 20, "total": 120}
    assert float(gen["total_cost"]) > 0
    assert gen["output"] == "forty-two"
    assert gen["parent_observation_id"] == by_name["pipeline"]["id"]
    assert '"temperature"' in gen["model_parameters"]
    assert by_name["tool-call"]["type"] == "TOOL"
    assert by_name["fails"]["level"] == "ERROR" and by_name["fails"]["status_message"] == "boom"


async def test_trace_attributes_are_merged(stack: Harness, traced: dict[str, Any]) -> None:
    pid = traced["keys"].project_id
    traces = {t["id"]: t for t in await _rows(stack, "traces", pid)}
    t = traces[traced["trace_id"]]
    assert t["name"] == "pipeline"
    assert t["user_id"] == "user-7" and t["session_id"] == "sess-1"
    assert t["tags"] == ["a", "b"]
    assert t["metadata"].get("team") in ("x", '"x"')


async def test_scores_of_every_type(stack: Harness, traced: dict[str, Any]) -> None:
    pid = traced["keys"].project_id
    scores = {s["name"]: s for s in await _rows(stack, "scores", pid)}
    assert scores["quality"]["data_type"] == "NUMERIC" and scores["quality"]["value"] == pytest.approx(0.9)
    assert scores["verdict"]["data_type"] == "CATEGORICAL" and scores["verdict"]["string_value"] == "good"
    assert scores["ok"]["data_type"] == "BOOLEAN" and scores["ok"]["value"] == 1.0
    assert {s["trace_id"] for s in scores.values()} == {traced["trace_id"]}


async def test_auth_check_and_wrong_keys(spyglass: Harness) -> None:
    keys = await spyglass.new_project()

    def check() -> tuple[bool, str]:
        from langfuse import Langfuse

        ok = _client(spyglass, keys).auth_check()
        # The SDK keeps one client per public key, so a wrong pair needs its own public key.
        bad = Langfuse(public_key="pk-lf-unknown", secret_key="sk-lf-nope", base_url=spyglass.url)
        try:
            bad.auth_check()
        except Exception as exc:  # the SDK raises its UnauthorizedError
            return ok, type(exc).__name__
        return ok, "no error"

    ok, err = await asyncio.to_thread(check)
    assert ok is True
    assert "Unauthorized" in err
