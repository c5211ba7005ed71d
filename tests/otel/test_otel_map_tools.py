"""Tool columns on OTel-mapped observations: each instrumentation's way of sending tool
definitions and calls, and spans without tools left exactly as before."""

from __future__ import annotations

import json

import spyglass.collector.otel.mapper as mapper
from tests.otel.otlp_builders import make_request, make_span, map_request, only

WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}},
}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}


def map_one(attrs, *, scope="some.instrumentation", name="span"):
    return only(map_request(make_request([make_span(name=name, attrs=attrs)], scope=scope)))


def test_langfuse_sdk_generation_with_tools(langfuse_capture):
    capture = langfuse_capture()
    with capture.client.start_as_current_observation(
        name="llm",
        as_type="generation",
        model="gpt-4o",
        input={"messages": [{"role": "user", "content": "Weather in Oslo?"}], "tools": [WEATHER]},
    ) as generation:
        generation.update(output={"role": "assistant", "content": None, "tool_calls": [CALL]})
    row = only(map_request(capture.request()))
    definition = json.loads(row.tool_definitions["get_weather"])
    assert definition == {"description": "Weather", "parameters": '{"type":"object"}'}
    assert row.tool_call_names == ["get_weather"]
    call = json.loads(row.tool_calls[0])
    assert call == {"id": "call_1", "arguments": '{"city":"Oslo"}', "type": "function", "index": 0}


def test_langfuse_sdk_metadata_tools_move_into_the_input(langfuse_capture):
    capture = langfuse_capture()
    with capture.client.start_as_current_observation(
        name="llm", as_type="generation", input="Weather?", metadata={"tools": [WEATHER], "team": "x"}
    ):
        pass
    row = only(map_request(capture.request()))
    assert json.loads(row.input) == {"prompt": "Weather?", "tools": [WEATHER]}
    assert "tools" not in row.metadata and row.metadata["team"] == "x"
    assert list(row.tool_definitions) == ["get_weather"]


def test_vercel_ai_prompt_tools_and_response_tool_calls():
    attrs = {
        "ai.operationId": "ai.generateText.doGenerate",
        "ai.model.id": "gpt-4o",
        "ai.prompt.messages": json.dumps([{"role": "user", "content": [{"type": "text", "text": "Oslo?"}]}]),
        "ai.prompt.tools": [json.dumps({"type": "function", "name": "get_weather", "parameters": {"type": "object"}})],
        "ai.response.text": "",
        "ai.response.toolCalls": json.dumps(
            [{"toolCallType": "function", "toolCallId": "tc1", "toolName": "get_weather", "args": '{"city":"Oslo"}'}]
        ),
        "ai.settings.maxRetries": 2,
    }
    row = map_one(attrs, scope="ai", name="ai.generateText.doGenerate")
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
    assert json.loads(row.input)["tools"] == [tool]
    assert json.loads(row.input)["messages"][0]["role"] == "user"
    kept = json.loads(row.metadata["attributes"])
    assert "ai.prompt.tools" not in kept and kept["ai.settings.maxRetries"] == 2
    assert list(row.tool_definitions) == ["get_weather"]
    assert row.tool_call_names == ["get_weather"]
    assert json.loads(row.tool_calls[0])["id"] == "tc1"


def test_gen_ai_tool_definitions_attribute():
    tools = [{"type": "function", "name": "lookup", "description": "Find", "parameters": {"type": "object"}}]
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]),
        "gen_ai.tool.definitions": json.dumps(tools),
    }
    row = map_one(attrs)
    assert json.loads(row.input)["tools"] == tools
    assert "gen_ai.tool.definitions" not in json.loads(row.metadata.get("attributes", "{}"))
    assert json.loads(row.tool_definitions["lookup"])["description"] == "Find"


def test_openinference_llm_tools_json_schema():
    attrs = {
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4o",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": "Oslo?",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_9",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "get_weather",
        "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"city":"Oslo"}',
        "llm.tools.0.tool.json_schema": json.dumps(WEATHER),
    }
    row = map_one(attrs, scope="openinference.instrumentation.openai")
    assert json.loads(row.input)["tools"] == [WEATHER]
    assert list(row.tool_definitions) == ["get_weather"]
    assert "llm.tools.0.tool.json_schema" not in row.metadata.get("attributes", "")


def test_pydantic_ai_model_request_parameters():
    parameters = {
        "function_tools": [{"name": "roll_die", "description": "Roll", "parameters_json_schema": {"type": "object"}}],
        "output_mode": "text",
    }
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "model_request_parameters": json.dumps(parameters),
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "roll"}]}]),
        "gen_ai.output.messages": json.dumps(
            [{"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "roll_die", "arguments": {}}]}]
        ),
    }
    row = map_one(attrs, scope="pydantic-ai")
    assert json.loads(row.input)["tools"] == parameters["function_tools"]
    assert json.loads(json.loads(row.metadata["attributes"])["model_request_parameters"]) == {"output_mode": "text"}
    assert json.loads(row.tool_definitions["roll_die"])["parameters"] == '{"type":"object"}'


def test_langchain_additional_kwargs_tool_calls_in_output():
    attrs = {
        "langfuse.observation.type": "generation",
        "langfuse.observation.input": json.dumps([{"role": "user", "content": "hi"}]),
        "langfuse.observation.output": json.dumps(
            {"role": "assistant", "content": "", "additional_kwargs": {"tool_calls": [CALL]}}
        ),
    }
    row = map_one(attrs, scope="langfuse-sdk")
    assert row.tool_definitions == {} and row.tool_call_names == ["get_weather"]


def test_spans_without_tools_are_unchanged(monkeypatch):
    spans = [
        make_span(sid=1, attrs={"langfuse.observation.input": "plain", "langfuse.observation.output": '{"a": 1}'}),
        make_span(sid=2, attrs={"gen_ai.operation.name": "chat", "gen_ai.prompt.0.content": "talk about tools"}),
        make_span(sid=3, attrs={"input.value": '{"messages": [{"role": "tool", "content": "42"}]}', "x": 1}),
    ]
    request = make_request(spans, scope="some.instrumentation")
    with_tools = map_request(request).observations
    monkeypatch.setattr(mapper, "_tools", lambda observation, sorted_attrs: None)
    without = map_request(request).observations
    assert with_tools == without
    assert all(not row.tool_definitions and not row.tool_calls for row in with_tools)
