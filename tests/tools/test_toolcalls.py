"""collector/otel/tool_calls.py: every source shape upstream's extractToolsBackend reads, and the
cheap no-tools path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from spyglass.collector.otel.tool_calls import (
    MISSING,
    apply_moved_metadata,
    is_tool_attribute,
    metadata_attributes,
    move_metadata_tools,
    tool_columns,
)

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
WEATHER_PARAMETERS = json.dumps(WEATHER["function"]["parameters"], separators=(",", ":"))
OPENAI_CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}


def columns(input_value: Any = None, output_value: Any = None) -> Any:
    text = lambda v: None if v is None else (v if isinstance(v, str) else json.dumps(v))  # noqa: E731
    return tool_columns(text(input_value), text(output_value))


def definitions(input_value: Any) -> dict[str, Any]:
    found = columns(input_value=input_value)
    return {} if found is None else {name: json.loads(value) for name, value in found.definitions.items()}


def calls(output_value: Any) -> list[tuple[str, dict[str, Any]]]:
    found = columns(output_value=output_value)
    return [] if found is None else [(n, json.loads(c)) for n, c in zip(found.call_names, found.calls, strict=True)]


def test_openai_chat_request_tools_and_choice_tool_calls() -> None:
    found = columns(
        {"messages": [{"role": "user", "content": "Weather in Oslo?"}], "tools": [WEATHER]},
        {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [OPENAI_CALL]}}]},
    )
    assert found is not None
    # Upstream stores the parameters schema as JSON text inside the JSON value.
    assert json.loads(found.definitions["get_weather"]) == {
        "description": "Weather for a city",
        "parameters": WEATHER_PARAMETERS,
    }
    assert found.call_names == ["get_weather"]
    call = json.loads(found.calls[0])
    assert call == {"id": "call_1", "arguments": '{"city":"Oslo"}', "type": "function", "index": 0}


def test_definitions_from_messages_langgraph_and_flat_shapes() -> None:
    found = definitions(
        [
            {"role": "system", "content": "x", "tools": [{"name": "flat", "desc": "d", "inputSchema": {"a": 1}}]},
            {"role": "tool", "content": {"type": "function", "function": {"name": "graph_tool"}}},
            {"role": "user", "content": "hi", "tools": [{"name": "flat", "description": "duplicate"}]},
        ]
    )
    assert found == {
        "flat": {"description": "d", "parameters": '{"a":1}'},  # first definition of a name wins
        "graph_tool": {"description": "", "parameters": ""},
    }


def test_nameless_definitions_are_skipped() -> None:
    assert definitions({"tools": [{"type": "web_search"}, {"function": "oops"}, "nope"]}) == {}


def test_calls_in_every_output_shape() -> None:
    assert calls({"tool_calls": [OPENAI_CALL]})[0][0] == "get_weather"
    assert calls({"toolCalls": json.dumps([{"toolCallId": "t1", "toolName": "search", "args": {"q": 1}}])}) == [
        ("search", {"id": "t1", "arguments": '{"q":1}', "type": "", "index": 0})
    ]
    # LangChain AIMessage
    assert calls({"content": "", "additional_kwargs": {"tool_calls": [dict(OPENAI_CALL, index=2)]}}) == [
        ("get_weather", {"id": "call_1", "arguments": '{"city":"Oslo"}', "type": "function", "index": 2})
    ]
    # Anthropic tool_use content parts
    anthropic = {"role": "assistant", "content": [{"type": "tool_use", "id": "tu1", "name": "calc", "input": {}}]}
    assert calls(anthropic) == [("calc", {"id": "tu1", "arguments": "{}", "type": "tool_use", "index": 0})]
    # A list of messages, and bare calls (Responses API function_call items)
    assert calls([{"role": "assistant", "tool_calls": [OPENAI_CALL]}])[0][0] == "get_weather"
    assert calls([{"type": "function_call", "call_id": "fc1", "name": "lookup", "arguments": "{}"}]) == [
        ("lookup", {"id": "fc1", "arguments": "{}", "type": "function_call", "index": 0})
    ]


def test_calls_dedupe_by_id_else_name_and_arguments() -> None:
    flat = {"name": "x", "arguments": "1"}
    found = calls({"tool_calls": [OPENAI_CALL, OPENAI_CALL, flat, flat]})
    assert [name for name, _ in found] == ["get_weather", "x"]


def test_tool_results_and_input_calls_are_not_calls() -> None:
    assert calls([{"type": "tool-result", "toolName": "search", "input": {}}]) == []
    # Calls are read from the output only, as upstream.
    assert columns(input_value={"messages": [{"role": "assistant", "tool_calls": [OPENAI_CALL]}]}) is None


@pytest.mark.parametrize(
    "text",
    [None, "", "plain text mentioning a tool and its arguments", '{"role":"assistant","content":"hi"}', "42"],
)
def test_no_tools_is_none(text: str | None) -> None:
    assert tool_columns(text, text) is None


def test_double_encoded_json_is_read() -> None:
    inner = json.dumps({"tools": [WEATHER]})
    assert "get_weather" in definitions(json.dumps(inner))


def test_attribute_keys() -> None:
    assert is_tool_attribute("ai.prompt.tools") and is_tool_attribute("llm.tools.12.tool.json_schema")
    assert not is_tool_attribute("llm.tools.x.tool.json_schema") and not is_tool_attribute("ai.prompt.messages")


def test_vercel_ai_prompt_tools_move_into_the_input() -> None:
    attributes = {
        "ai.prompt.tools": [
            json.dumps({"type": "function", "name": "search", "description": "d", "inputSchema": {"type": "object"}}),
            json.dumps({"type": "provider-defined", "id": "openai.web_search", "args": {}}),
        ],
        "ai.model.provider": "openai.chat",
    }
    moved = move_metadata_tools('[{"role":"user","content":"hi"}]', None, attributes)
    assert moved is not None
    assert json.loads(moved.input) == {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [
            {"type": "function", "name": "search", "description": "d", "inputSchema": {"type": "object"}},
            {"type": "provider-defined", "id": "openai.web_search", "args": {}},
        ],
    }
    assert moved.attributes == {"ai.model.provider": "openai.chat"}
    found = tool_columns(moved.input, None, moved.parsed_input)
    assert found is not None and list(found.definitions) == ["search"]


def test_gen_ai_tool_definitions_with_a_string_prompt() -> None:
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    moved = move_metadata_tools("What is the weather?", None, {"gen_ai.tool.definitions": json.dumps(tools)})
    assert moved is not None
    assert json.loads(moved.input) == {"prompt": "What is the weather?", "tools": tools}
    assert moved.attributes == {}


def test_pydantic_ai_function_tools_leave_the_other_parameters() -> None:
    parameters = {
        "function_tools": [{"name": "roll_die", "description": "Roll", "parameters_json_schema": {"type": "object"}}],
        "allow_text_output": True,
    }
    moved = move_metadata_tools(None, None, {"model_request_parameters": json.dumps(parameters)})
    assert moved is not None
    assert json.loads(moved.input) == {"tools": parameters["function_tools"]}
    assert moved.attributes == {"model_request_parameters": '{"allow_text_output":true}'}
    found = tool_columns(moved.input, None, moved.parsed_input)
    assert found is not None
    assert json.loads(found.definitions["roll_die"]) == {"description": "Roll", "parameters": '{"type":"object"}'}


def test_openinference_indexed_tools_in_index_order() -> None:
    schema = lambda name: json.dumps({"type": "function", "function": {"name": name}})  # noqa: E731
    attributes = {
        "llm.tools.10.tool.json_schema": schema("tenth"),
        "llm.tools.2.tool.json_schema": schema("second"),
        "llm.tools.3.tool.json_schema": "not a tool",
    }
    moved = move_metadata_tools('{"messages": []}', None, attributes)
    assert moved is not None
    assert [tool["function"]["name"] for tool in moved.parsed_input["tools"]] == ["second", "tenth"]
    assert moved.attributes == {"llm.tools.3.tool.json_schema": "not a tool"}


def test_metadata_tools_merge_with_existing_input_tools() -> None:
    metadata = {"tools": json.dumps([WEATHER, {"name": "other"}]), "keep": "1"}
    moved = move_metadata_tools(json.dumps({"messages": [], "tools": [WEATHER]}), metadata["tools"], None)
    assert moved is not None and moved.drop_metadata_tools
    assert [t.get("name") or t["function"]["name"] for t in moved.parsed_input["tools"]] == ["get_weather", "other"]
    apply_moved_metadata(metadata, moved)
    assert metadata == {"keep": "1"}


def test_nothing_moves_when_the_input_cannot_take_tools() -> None:
    assert move_metadata_tools("42", json.dumps([WEATHER]), None) is None
    assert move_metadata_tools('{"tools": "not a list"}', json.dumps([WEATHER]), None) is None
    # metadata.tools must be definitions, every one of them
    assert move_metadata_tools(None, json.dumps([WEATHER, {"x": 1}]), None) is None
    assert move_metadata_tools(None, "a note about tools", None) is None


def test_metadata_attributes_text_is_parsed_only_with_a_tool_key() -> None:
    assert metadata_attributes('{"ai.prompt.tools": []}') == {"ai.prompt.tools": []}
    assert metadata_attributes('{"http.method": "GET"}') is None
    assert metadata_attributes(None) is None


def test_parsed_input_skips_the_text() -> None:
    assert tool_columns("not json", None, {"tools": [WEATHER]}) is not None
    assert tool_columns(json.dumps({"tools": [WEATHER]}), None, MISSING) is not None
