"""Spans from third-party instrumentations: GenAI semconv (old and new), OpenInference,
Vercel AI SDK, Traceloop, MLflow, Logfire, pydantic-ai — and plain OTel detail (events,
links, kinds, exceptions) that must survive the mapping."""

from __future__ import annotations

import json

import pytest
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from spyglass.collector.otel import map_export, merge_trace_patch, walk_protobuf
from tests.otel.otlp_builders import (
    OTHER_TRACE,
    T0,
    TRACE,
    by_name,
    make_request,
    make_span,
    map_json,
    map_request,
    only,
    otlp_json,
    span_id,
)


def map_one(attrs, *, scope="some.instrumentation", name="span", events=()):
    return only(map_request(make_request([make_span(name=name, attrs=attrs, events=list(events))], scope=scope)))


def test_gen_ai_old_style_traceloop_attributes():
    attrs = {
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 256,
        "gen_ai.prompt.0.role": "system",
        "gen_ai.prompt.0.content": "Be brief.",
        "gen_ai.prompt.1.role": "user",
        "gen_ai.prompt.1.content": "Hi",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": "Hello!",
        "gen_ai.completion.0.finish_reason": "stop",
        "gen_ai.usage.prompt_tokens": 20,
        "gen_ai.usage.completion_tokens": 5,
        "llm.usage.total_tokens": 25,
        "traceloop.workflow.name": "wf",
    }
    row = map_one(attrs, scope="opentelemetry.instrumentation.openai.v1")
    assert row.type == "GENERATION"
    assert row.provided_model_name == "gpt-4o-2024-08-06"  # response model outranks request model
    assert json.loads(row.model_parameters) == {"temperature": 0.2, "max_tokens": 256}
    assert json.loads(row.input) == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert json.loads(row.output) == [{"role": "assistant", "content": "Hello!", "finish_reason": "stop"}]
    assert row.provided_usage_details == {"input": 20, "output": 5, "total": 25}
    kept = json.loads(row.metadata["attributes"])
    assert kept["gen_ai.system"] == "openai" and kept["traceloop.workflow.name"] == "wf"
    assert kept["gen_ai.usage.prompt_tokens"] == 20
    assert not any(key.startswith(("gen_ai.prompt.", "gen_ai.completion.")) for key in kept)


def test_gen_ai_new_style_messages_with_system_instructions():
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-x",
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be kind."}]),
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Yo"}]}]),
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 30,
        "gen_ai.usage.cache_read.input_tokens": 40,
        "gen_ai.usage.reasoning.output_tokens": 10,
        "gen_ai.conversation.id": "conv-1",
    }
    result = map_request(make_request([make_span(attrs=attrs)], scope="x"))
    row = only(result)
    assert row.type == "GENERATION"
    messages = json.loads(row.input)
    assert messages[0] == {"role": "system", "content": [{"type": "text", "content": "Be kind."}]}
    assert messages[1]["role"] == "user"
    assert json.loads(row.output)[0]["parts"][0]["content"] == "Yo"
    assert row.provided_usage_details == {
        "input": 60,
        "output": 20,
        "input_cached_tokens": 40,
        "output_reasoning_tokens": 10,
    }
    assert result.traces[TRACE].session_id == "conv-1"
    # Without instructions the messages are stored exactly as sent.
    del attrs["gen_ai.system_instructions"]
    assert map_one(attrs).input == attrs["gen_ai.input.messages"]


def test_gen_ai_inference_details_event():
    event_attrs = {
        "gen_ai.input.messages": '[{"role":"user","parts":[]}]',
        "gen_ai.output.messages": '[{"role":"assistant","parts":[]}]',
    }
    row = map_one(
        {"gen_ai.operation.name": "chat"},
        events=[("gen_ai.client.inference.operation.details", T0 + 1, event_attrs)],
    )
    assert row.input == event_attrs["gen_ai.input.messages"]
    assert row.output == event_attrs["gen_ai.output.messages"]
    assert json.loads(row.otel_events)[0]["name"] == "gen_ai.client.inference.operation.details"


def test_gen_ai_message_events_from_the_real_otel_sdk(otel_capture):
    capture = otel_capture({"service.name": "bot", "deployment.environment.name": "QA"})
    with capture.tracer("opentelemetry.instrumentation.openai").start_as_current_span("chat gpt-4o") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.request.model", "gpt-4o")
        span.add_event("gen_ai.system.message", {"content": "Be brief."})
        span.add_event("gen_ai.user.message", {"content": "Hi"})
        span.add_event("gen_ai.choice", {"index": 0, "finish_reason": "stop", "message": '{"content":"Yo"}'})
    row = only(map_request(capture.request()))
    assert row.type == "GENERATION"
    assert row.environment == "qa"
    assert json.loads(row.input) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert json.loads(row.output) == {"index": 0, "finish_reason": "stop", "message": '{"content":"Yo"}'}
    events = json.loads(row.otel_events)
    assert [e["name"] for e in events] == ["gen_ai.system.message", "gen_ai.user.message", "gen_ai.choice"]
    assert all(e["time"].endswith("Z") and e["time"].startswith("20") for e in events)


def test_openinference_llm_and_chain():
    llm = make_span(
        sid=2,
        parent=1,
        name="ChatCompletion",
        attrs={
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-mini",
            "llm.invocation_parameters": '{"temperature": 0.7, "response_format": {"type": "json"}}',
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": "Hi",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": "Hello",
            "llm.token_count.prompt": 12,
            "llm.token_count.completion": 3,
            "llm.token_count.total": 15,
            "llm.cost.total": 0.25,
            "session.id": "sess",
            "user.id": "usr",
            "tag.tags": ["t1", "t2"],
            "metadata": '{"m": 1}',
        },
    )
    chain = make_span(
        sid=1,
        name="chain",
        attrs={
            "openinference.span.kind": "CHAIN",
            "input.value": '{"question": "why"}',
            "input.mime_type": "application/json",
            "output.value": "because",
        },
    )
    retriever = make_span(sid=3, parent=1, name="ret", attrs={"openinference.span.kind": "retriever"})
    result = map_request(make_request([llm, chain, retriever], scope="openinference.instrumentation.openai"))
    rows = by_name(result)
    gen = rows["ChatCompletion"]
    assert gen.type == "GENERATION"
    assert gen.provided_model_name == "gpt-4o-mini"
    assert json.loads(gen.model_parameters) == {"temperature": 0.7, "response_format": '{"type":"json"}'}
    assert json.loads(gen.input) == [{"message": {"role": "user", "content": "Hi"}}]
    assert json.loads(gen.output) == [{"message": {"role": "assistant", "content": "Hello"}}]
    assert gen.provided_usage_details == {"input": 12, "output": 3, "total": 15}
    assert (gen.cost_details, gen.total_cost) == ({"total": 0.25}, 0.25)
    assert rows["chain"].type == "CHAIN"
    assert (rows["chain"].input, rows["chain"].output) == ('{"question": "why"}', "because")
    assert json.loads(rows["chain"].metadata["attributes"]) == {
        "openinference.span.kind": "CHAIN",
        "input.mime_type": "application/json",
    }
    assert rows["ret"].type == "RETRIEVER"
    patch = result.traces[TRACE]
    assert (patch.session_id, patch.user_id, patch.tags) == ("sess", "usr", {"t1", "t2"})
    trace = merge_trace_patch(None, patch)
    assert (trace.name, trace.input, trace.output) == ("chain", '{"question": "why"}', "because")


def test_vercel_ai_sdk_generation_and_tool_call():
    generate = make_span(
        sid=2,
        parent=1,
        name="ai.generateText.doGenerate",
        attrs={
            "operation.name": "ai.generateText.doGenerate my-fn",
            "ai.operationId": "ai.generateText.doGenerate",
            "ai.telemetry.functionId": "my-fn",
            "ai.model.id": "gpt-4o",
            "ai.model.provider": "openai.chat",
            "ai.prompt.messages": '[{"role":"user","content":"Hi"}]',
            "ai.response.text": "Calling a tool",
            "ai.response.toolCalls": '[{"toolCallId":"c1","toolName":"weather","args":"{}"}]',
            "ai.response.msToFirstChunk": 120.4,
            "ai.usage.promptTokens": 50,
            "ai.usage.completionTokens": 10,
            "ai.usage.tokens": 60,
            "ai.usage.cachedInputTokens": 20,
            "gen_ai.request.temperature": 0.3,
            "ai.settings.maxRetries": 2,
            "ai.telemetry.metadata.userId": "vu",
            "ai.telemetry.metadata.sessionId": "vs",
            "ai.telemetry.metadata.tags": ["v1"],
            "ai.telemetry.metadata.team": "blue",
        },
    )
    tool = make_span(
        sid=3,
        parent=1,
        name="ai.toolCall",
        attrs={
            "operation.name": "ai.toolCall",
            "ai.operationId": "ai.toolCall",
            "ai.toolCall.name": "weather",
            "ai.toolCall.args": '{"city":"Oslo"}',
            "ai.toolCall.result": '{"temp": -3}',
        },
    )
    result = map_request(make_request([generate, tool], scope="ai"))
    rows = {row.id: row for row in result.observations}
    gen, call = rows[span_id(2)], rows[span_id(3)]
    assert gen.type == "GENERATION"
    assert gen.name == "my-fn:ai.generateText.doGenerate"
    assert gen.provided_model_name == "gpt-4o"
    assert gen.input == '[{"role":"user","content":"Hi"}]'
    assert json.loads(gen.output) == {
        "role": "assistant",
        "content": "Calling a tool",
        "tool_calls": [{"toolCallId": "c1", "toolName": "weather", "args": "{}"}],
    }
    assert gen.provided_usage_details == {"input": 30, "output": 10, "total": 60, "input_cached_tokens": 20}
    assert json.loads(gen.model_parameters) == {"temperature": 0.3, "system": "openai.chat", "maxRetries": 2}
    assert gen.completion_start_time == round(gen.start_time + 0.120400, 6)
    assert gen.metadata["team"] == "blue"
    assert "userId" not in gen.metadata
    assert (call.type, call.name) == ("TOOL", "weather")
    assert (call.input, call.output) == ('{"city":"Oslo"}', '{"temp": -3}')
    patch = result.traces[TRACE]
    assert (patch.user_id, patch.session_id, patch.tags) == ("vu", "vs", {"v1"})
    assert patch.metadata["team"] == "blue"


@pytest.mark.parametrize(
    ("attrs", "expected_type", "expected_io"),
    [
        ({"traceloop.entity.input": '{"a":1}', "traceloop.entity.output": "r"}, "SPAN", ('{"a":1}', "r")),
        ({"mlflow.spanInputs": '{"x":1}', "mlflow.spanOutputs": '"y"'}, "SPAN", ('{"x":1}', '"y"')),
        ({"input": "plain-in", "output": "plain-out"}, "SPAN", ("plain-in", "plain-out")),
        (
            {
                "gen_ai.tool.name": "search",
                "gen_ai.tool.call.id": "c9",
                "gen_ai.tool.call.arguments": '{"q":"x"}',
                "gen_ai.tool.call.result": "found",
            },
            "TOOL",
            ('{"q":"x"}', "found"),
        ),
        ({"gen_ai.operation.name": "embeddings", "input.value": "text"}, "EMBEDDING", ("text", None)),
        ({"gen_ai.operation.name": "execute_tool"}, "TOOL", (None, None)),
        ({"gen_ai.operation.name": "create_agent"}, "AGENT", (None, None)),
        ({"model": "some-model"}, "GENERATION", (None, None)),
        ({"genkit:metadata:subtype": "embedder"}, "EMBEDDING", (None, None)),
        ({"flue.task.id": "t"}, "AGENT", (None, None)),
        (
            {"gcp.vertex.agent.llm_request": "{}", "gcp.vertex.agent.tool_call_args": '{"a":1}'},
            "SPAN",
            ('{"a":1}', None),
        ),
        ({"lk.user_transcript": "hey", "lk.response.text": "hello"}, "SPAN", ("hey", "hello")),
        ({"prompt": "tell me", "all_messages_events": "[]"}, "SPAN", ("tell me", "[]")),
    ],
)
def test_other_families_type_and_io(attrs, expected_type, expected_io):
    row = map_one(attrs)
    assert row.type == expected_type
    assert (row.input, row.output) == expected_io


def test_tool_name_becomes_the_observation_name():
    assert map_one({"gen_ai.tool.name": "search"}, name="execute_tool search").name == "search"
    assert map_one({"logfire.msg": "running agent"}, name="agent run").name == "running agent"


def test_logfire_events_attribute_split_into_input_and_output():
    events = [
        {"event.name": "gen_ai.user.message", "content": "Hi"},
        {"event.name": "gen_ai.choice", "message": {"role": "assistant", "content": "Yo"}},
    ]
    row = map_one({"events": json.dumps(events)}, scope="logfire")
    assert json.loads(row.input) == [events[0]]
    assert json.loads(row.output) == events[1]


def test_pydantic_ai_messages_with_instructions_prepended():
    attrs = {
        "pydantic_ai.all_messages": '[{"role":"user","parts":[{"type":"text","content":"Hi"}]}]',
        "final_result": "done",
        "gen_ai.system_instructions": '"Be terse."',
    }
    row = map_one(attrs, scope="pydantic-ai")
    assert json.loads(row.input)[0] == {"role": "system", "content": "Be terse."}
    assert row.output == "done"


def test_semantic_kernel_legacy_content_events():
    row = map_one(
        {"gen_ai.operation.name": "chat"},
        events=[
            ("gen_ai.content.prompt", T0 + 1, {"gen_ai.prompt": '[{"role":"user","content":"Hi"}]'}),
            ("gen_ai.content.completion", T0 + 2, {"gen_ai.completion": '[{"role":"assistant","content":"Yo"}]'}),
        ],
    )
    assert row.input == '[{"role":"user","content":"Hi"}]'
    assert row.output == '[{"role":"assistant","content":"Yo"}]'


def test_events_links_kind_and_exception_survive(otel_capture):
    capture = otel_capture({"service.name": "svc"})
    tracer = capture.tracer("my.lib", "2.0")
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    linked = SpanContext(int(OTHER_TRACE, 16), int(span_id(9), 16), is_remote=True, trace_flags=TraceFlags(1))
    with tracer.start_as_current_span(
        "handler", kind=SpanKind.SERVER, links=[Link(linked, {"link.reason": "batch"})]
    ) as span:
        span.set_attribute("http.route", "/chat")
        span.add_event("cache.miss", {"key": "k1"})
        span.record_exception(ValueError("bad input"))
        span.set_status(Status(StatusCode.ERROR, "bad input"))
    del NonRecordingSpan
    row = only(map_request(capture.request()))
    assert (row.level, row.status_message) == ("ERROR", "bad input")
    assert row.metadata["spanKind"] == "SERVER"
    assert json.loads(row.metadata["attributes"]) == {"http.route": "/chat"}
    assert json.loads(row.metadata["scope"]) == {"name": "my.lib", "version": "2.0", "attributes": {}}
    events = json.loads(row.otel_events)
    assert events[0]["name"] == "cache.miss" and events[0]["attributes"] == {"key": "k1"}
    assert events[1]["name"] == "exception"
    assert events[1]["attributes"]["exception.type"] == "ValueError"
    assert "exception.stacktrace" in events[1]["attributes"]
    (link,) = json.loads(row.otel_links)
    assert link == {"traceId": OTHER_TRACE, "spanId": span_id(9), "attributes": {"link.reason": "batch"}}


def test_event_time_is_iso_with_microseconds():
    row = map_one({}, events=[("e", T0 + 1_000, {})])
    assert json.loads(row.otel_events)[0]["time"] == "2026-09-21T14:13:20.123457Z"
    assert map_one({}).otel_events == ""


def test_json_and_protobuf_give_identical_rows(langfuse_capture, otel_capture):
    capture = langfuse_capture(environment="prod")
    with capture.client.start_as_current_observation(name="root", as_type="agent", input={"q": 1}, metadata={"a": 1}):
        with capture.client.start_as_current_observation(
            name="gen", as_type="generation", model="m", usage_details={"input": 1}
        ):
            pass
    sdk_request = capture.request()
    otel = otel_capture({"service.name": "third"})
    with otel.tracer("openinference.instrumentation.x").start_as_current_span("llm") as span:
        span.set_attribute("openinference.span.kind", "LLM")
        span.set_attribute("llm.input_messages.0.message.content", "hi")
        span.set_attribute("llm.token_count.prompt", 3)
        span.set_attribute("tag.tags", ["a", "b"])
        span.set_attribute("ratio", 0.5)
        span.add_event("note", {"n": 1})
    with otel.tracer("opentelemetry.instrumentation.genai").start_as_current_span("chat") as span:
        for key, value in {
            "gen_ai.request.model": "m",
            "gen_ai.request.top_p": 0.9,
            "gen_ai.request.max_tokens": 10,
            "gen_ai.request.stop_sequences": ["x", "y"],
            "gen_ai.request.seed": 3,
        }.items():
            span.set_attribute(key, value)
        span.add_event("gen_ai.user.message", {"content": "hi", "gen_ai.system": "openai", "index": 0, "z": True})
        span.add_event("gen_ai.choice", {"index": 0, "finish_reason": "stop", "message": "{}"})
    sdk_request.resource_spans.extend(otel.request().resource_spans)

    from_protobuf = map_request(sdk_request)
    from_json_numbers = map_json(otlp_json(sdk_request, ints_as_numbers=True))
    from_json_strings = map_json(otlp_json(sdk_request, ints_as_numbers=False))
    assert len(from_protobuf.observations) == 4
    assert from_protobuf.observations == from_json_numbers.observations == from_json_strings.observations
    assert from_protobuf.traces == from_json_numbers.traces
    # The opentelemetry-proto walk (e.g. for gRPC requests) agrees too.
    slow = map_export(walk_protobuf(sdk_request), project_id="proj-1", received_at=1_790_000_100.5)
    assert slow.observations == from_protobuf.observations


def test_invalid_span_rejected_while_siblings_map():
    good = make_span(sid=1, name="good", attrs={"langfuse.observation.type": "generation"})
    bad = make_span(sid=2, name="bad")
    bad.trace_id = b"\x01" * 15
    result = map_request(make_request([good, bad]))
    assert [row.name for row in result.observations] == ["good"]
    assert result.rejected_count == 1
    assert result.error_message.startswith("rejected 1 of 2 spans (invalid trace id: 1)")
    assert set(result.traces) == {TRACE}


def test_genkit_model_span():
    attrs = {
        "genkit:metadata:subtype": "model",
        "genkit:name": "googleai/gemini-2.0-flash",
        "genkit:input": json.dumps({"messages": [{"role": "user"}], "config": {"temperature": 0.4, "tags": ["a"]}}),
        "genkit:output": json.dumps(
            {
                "message": {"role": "model"},
                "usage": {"inputTokens": 9, "outputTokens": 7, "totalTokens": 16, "thoughtsTokens": 2},
            }
        ),
    }
    row = map_one(attrs, scope="genkit-tracer", name="generate")
    assert (row.type, row.name, row.provided_model_name) == (
        "GENERATION",
        "googleai/gemini-2.0-flash",
        "googleai/gemini-2.0-flash",
    )
    assert (json.loads(row.input), json.loads(row.output)) == ([{"role": "user"}], {"role": "model"})
    assert json.loads(row.model_parameters) == {"temperature": 0.4, "tags": '["a"]'}
    assert row.provided_usage_details == {"input": 9, "output": 5, "total": 16, "output_reasoning": 2}


def test_resource_level_trace_metadata_reaches_trace_and_observation():
    request = make_request(
        [make_span(attrs={"langfuse.observation.metadata.own": "x"})],
        resource={"langfuse.trace.metadata.region": '"eu"', "service.name": "svc"},
    )
    result = map_request(request)
    row = only(result)
    assert (row.metadata["region"], row.metadata["own"]) == ("eu", "x")
    assert result.traces[TRACE].metadata == {"region": "eu"}
