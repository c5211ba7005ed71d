"""Tool columns end to end: the real Langfuse v5 SDK over OTLP, and legacy /ingestion events
whose update adds the tool calls, read back from ClickHouse."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from tests.harness import Harness

WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather for a city", "parameters": {"type": "object"}},
}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}


async def _observations(spyglass: Harness, pid: str) -> dict[str, dict[str, Any]]:
    rows = await spyglass.stores.ch.rows(
        "SELECT id, name, input, metadata, tool_definitions, tool_calls, tool_call_names FROM observations"
        " WHERE project_id = {p:String} ORDER BY event_ts DESC LIMIT 1 BY id",
        {"p": pid},
    )
    return {row["name"]: row for row in rows}


def _check_weather_columns(row: dict[str, Any]) -> None:
    assert {name: json.loads(value) for name, value in row["tool_definitions"].items()} == {
        "get_weather": {"description": "Weather for a city", "parameters": '{"type":"object"}'}
    }
    assert row["tool_call_names"] == ["get_weather"]
    assert [json.loads(call) for call in row["tool_calls"]] == [
        {"id": "call_1", "arguments": '{"city":"Oslo"}', "type": "function", "index": 0}
    ]


async def test_langfuse_v5_generation_with_tools(spyglass: Harness) -> None:
    keys = await spyglass.new_project()

    def run() -> None:
        from langfuse import Langfuse

        lf = Langfuse(public_key=keys.public_key, secret_key=keys.secret_key, base_url=spyglass.url)
        with lf.start_as_current_observation(
            name="llm",
            as_type="generation",
            model="gpt-4o",
            input={"messages": [{"role": "user", "content": "Weather in Oslo?"}], "tools": [WEATHER]},
        ) as generation:
            generation.update(
                output={"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [CALL]}}]}
            )
        with lf.start_as_current_observation(name="plain", as_type="generation", input="hi") as plain:
            plain.update(output="hello")
        lf.flush()
        lf.shutdown()

    await asyncio.to_thread(run)
    await spyglass.wait_idle()
    rows = await _observations(spyglass, keys.project_id)
    _check_weather_columns(rows["llm"])
    assert (rows["plain"]["tool_definitions"], rows["plain"]["tool_calls"], rows["plain"]["tool_call_names"]) == (
        {},
        [],
        [],
    )


async def test_legacy_ingestion_update_adds_tool_calls(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    trace_id, gen_id = str(uuid.uuid4()), str(uuid.uuid4())
    start = datetime.now(UTC)
    create = {
        "id": str(uuid.uuid4()),
        "type": "generation-create",
        "timestamp": start.isoformat(),
        "body": {
            "id": gen_id,
            "traceId": trace_id,
            "name": "legacy-llm",
            "startTime": start.isoformat(),
            "input": [{"role": "user", "content": "Weather in Oslo?"}],
            "metadata": {"tools": [WEATHER]},
        },
    }
    update = {
        "id": str(uuid.uuid4()),
        "type": "generation-update",
        "timestamp": (start + timedelta(seconds=1)).isoformat(),
        "body": {"id": gen_id, "traceId": trace_id, "output": {"role": "assistant", "tool_calls": [CALL]}},
    }
    async with aiohttp.ClientSession() as http:
        for event in (create, update):
            async with http.post(
                f"{spyglass.url}/api/public/ingestion", json={"batch": [event]}, headers=keys.headers
            ) as response:
                assert response.status == 207
            await spyglass.wait_idle()
    row = (await _observations(spyglass, keys.project_id))["legacy-llm"]
    _check_weather_columns(row)
    # The definitions moved from the metadata into the input, as upstream does.
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    assert json.loads(row["input"]) == {"messages": messages, "tools": [WEATHER]}
    assert "tools" not in row["metadata"]
