"""Tool columns on legacy ingestion observations, read from the merged row."""

from __future__ import annotations

import json
from typing import Any

from spyglass.collector.events import merge_observation, parse_ingestion_body

from .wire import GEN_ID, TRACE_ID, envelope, ingestion_body

VERSION = 1_795_400_000.123456
LATER = 1_795_500_000.5
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}


def generation_events(*items: tuple[str, str, dict[str, Any]]) -> list[Any]:
    batch = [
        envelope(f"ev-{n}", event_type, f"2026-11-22T09:50:2{n}.000000Z", {"id": GEN_ID, "traceId": TRACE_ID, **body})
        for n, (event_type, _, body) in enumerate(items)
    ]
    result = parse_ingestion_body(ingestion_body(batch))
    assert result.errors == []
    return result.events


def test_update_adding_tool_calls_reads_the_stored_input() -> None:
    create = generation_events(("generation-create", "", {"input": {"messages": [], "tools": [WEATHER]}}))
    row = merge_observation(None, create, "p", VERSION)
    assert list(row.tool_definitions) == ["get_weather"] and row.tool_calls == []

    update = generation_events(("generation-update", "", {"output": {"role": "assistant", "tool_calls": [CALL]}}))
    merged = merge_observation(row, update, "p", LATER)
    assert list(merged.tool_definitions) == ["get_weather"]
    assert merged.tool_call_names == ["get_weather"]
    assert json.loads(merged.tool_calls[0]) == {"id": "call_1", "arguments": "{}", "type": "function", "index": 0}


def test_an_update_without_tools_keeps_the_stored_columns() -> None:
    create = generation_events(
        ("generation-create", "", {"input": {"tools": [WEATHER]}, "output": {"tool_calls": [CALL]}})
    )
    row = merge_observation(None, create, "p", VERSION)
    update = generation_events(("generation-update", "", {"input": "new prompt", "output": "done"}))
    merged = merge_observation(row, update, "p", LATER)
    assert merged.input == "new prompt"
    assert list(merged.tool_definitions) == ["get_weather"] and merged.tool_call_names == ["get_weather"]


def test_metadata_tools_move_into_the_input() -> None:
    create = generation_events(
        ("generation-create", "", {"input": [{"role": "user", "content": "hi"}], "metadata": {"tools": [WEATHER]}})
    )
    row = merge_observation(None, create, "p", VERSION)
    assert json.loads(row.input) == {"messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER]}
    assert "tools" not in row.metadata
    assert list(row.tool_definitions) == ["get_weather"]
    # Merging again (a replay, or the next update) changes nothing more.
    again = merge_observation(row, generation_events(("generation-update", "", {"name": "n"})), "p", LATER)
    assert again.input == row.input and again.tool_definitions == row.tool_definitions


def test_observations_without_tools_keep_empty_columns() -> None:
    row = merge_observation(
        None, generation_events(("generation-create", "", {"input": {"q": "tools?"}, "output": "a tool"})), "p", VERSION
    )
    assert (row.tool_definitions, row.tool_calls, row.tool_call_names) == ({}, [], [])
    assert row.input == '{"q":"tools?"}' or json.loads(row.input) == {"q": "tools?"}
