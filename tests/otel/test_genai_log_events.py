"""GenAI prompts and completions sent as OTLP log records, by the real OpenAI instrumentation.

opentelemetry-instrumentation-openai-v2 with `..._CAPTURE_MESSAGE_CONTENT=EVENT_ONLY` puts the
messages in a log record (`gen_ai.client.inference.operation.details`) tied to the span, not in
span attributes; its older event form (`gen_ai.user.message`, `gen_ai.choice`, ...) is covered by
tests/otel/test_log_events.py. They
become EVENT observations under the generation, and its input/output when the span has none,
whichever of spans and logs reaches Spyglass first. The OpenAI API is a fake on loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import ClientSession, web

from tests.harness import Harness, ProjectKeys, free_port

SYSTEM = "You answer in one word."
QUESTION = "What is the capital of France?"
ANSWER = "Paris."


async def _chat_completion(request: web.Request) -> web.Response:
    body = await request.json()
    return web.json_response(
        {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 1_765_000_000,
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 21, "completion_tokens": 2, "total_tokens": 23},
        }
    )


@pytest.fixture
async def fake_openai() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", _chat_completion)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/v1"
    await runner.cleanup()


class _Telemetry:
    """Tracer and logger providers exporting OTLP/HTTP to Spyglass, with the OpenAI client
    instrumented; the test decides which signal is flushed first."""

    def __init__(self, spyglass: Harness, keys: ProjectKeys) -> None:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        # Long delays: nothing is exported until the test flushes.
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(endpoint=f"{spyglass.url}/v1/traces", headers=keys.headers),
                schedule_delay_millis=600_000,
            )
        )
        self.logger_provider = LoggerProvider()
        self.logger_provider.add_log_record_processor(
            BatchLogRecordProcessor(
                OTLPLogExporter(endpoint=f"{spyglass.url}/api/public/otel/v1/logs", headers=keys.headers),
                schedule_delay_millis=600_000,
            )
        )
        self.instrumentor = OpenAIInstrumentor()
        self.instrumentor.instrument(tracer_provider=self.tracer_provider, logger_provider=self.logger_provider)

    def ask(self, base_url: str) -> str:
        import openai

        client = openai.OpenAI(base_url=base_url, api_key="test-key", max_retries=0)
        tracer = self.tracer_provider.get_tracer("test")
        with tracer.start_as_current_span("root-marker") as marker:
            trace_id = format(marker.get_span_context().trace_id, "032x")
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}],
        )
        return trace_id

    def close(self) -> None:
        self.instrumentor.uninstrument()
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()


@pytest.fixture
def capture_content(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Messages in log records only, not in span attributes: the case this is about.
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "EVENT_ONLY")
    yield


async def _generation_trace(spyglass: Harness, keys: ProjectKeys, exclude: str) -> dict[str, Any]:
    """The trace of the one generation of the project, through the public API."""
    async with ClientSession(headers=keys.headers) as http:
        async with http.get(f"{spyglass.url}/api/public/observations", params={"type": "GENERATION"}) as resp:
            assert resp.status == 200, await resp.text()
            [generation] = (await resp.json())["data"]
        assert generation["traceId"] != exclude
        async with http.get(f"{spyglass.url}/api/public/traces/{generation['traceId']}") as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()  # type: ignore[no-any-return]


def _text(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "parts": [{"content": text, "type": "text"}]}


def _check(trace: dict[str, Any]) -> None:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for observation in trace["observations"]:
        by_type.setdefault(observation["type"], []).append(observation)
    [generation] = by_type["GENERATION"]
    assert generation["input"] == [_text("system", SYSTEM), _text("user", QUESTION)]
    assert generation["output"] == [{**_text("assistant", ANSWER), "finish_reason": "stop"}]
    assert generation["usageDetails"] == {"input": 21, "output": 2, "total": 23}
    [event] = by_type["EVENT"]
    assert event["name"] == "gen_ai.client.inference.operation.details"
    assert event["parentObservationId"] == generation["id"]
    assert (event["input"], event["output"]) == (generation["input"], generation["output"])
    assert event["metadata"]["gen_ai.response.id"] == "chatcmpl-test"
    # The generation is the trace's root: its input/output are the trace's.
    assert generation["parentObservationId"] is None
    assert trace["input"] == generation["input"] and trace["output"] == generation["output"]


@pytest.mark.parametrize("first", ["logs", "spans"])
async def test_openai_v2_log_events_become_the_generations_input_and_output(
    stack: Harness, fake_openai: str, capture_content: None, first: str
) -> None:
    spyglass = stack
    keys = await spyglass.new_project()
    telemetry = await asyncio.to_thread(_Telemetry, spyglass, keys)
    try:
        marker_trace = await asyncio.to_thread(telemetry.ask, fake_openai)
        flushes = [telemetry.logger_provider.force_flush, telemetry.tracer_provider.force_flush]
        if first == "spans":
            flushes.reverse()
        for flush in flushes:
            assert await asyncio.to_thread(flush)
            # Each signal lands (and is merged) on its own before the other arrives.
            await spyglass.wait_idle()
    finally:
        await asyncio.to_thread(telemetry.close)
    _check(await _generation_trace(spyglass, keys, exclude=marker_trace))


async def test_without_message_capture_the_generation_gets_no_input(spyglass: Harness, fake_openai: str) -> None:
    keys = await spyglass.new_project()
    telemetry = await asyncio.to_thread(_Telemetry, spyglass, keys)
    try:
        await asyncio.to_thread(telemetry.ask, fake_openai)
        assert await asyncio.to_thread(telemetry.logger_provider.force_flush)
        assert await asyncio.to_thread(telemetry.tracer_provider.force_flush)
    finally:
        await asyncio.to_thread(telemetry.close)
    await spyglass.wait_idle()
    trace = await _generation_trace(spyglass, keys, exclude="")
    [generation] = [o for o in trace["observations"] if o["type"] == "GENERATION"]
    assert generation["input"] is None and generation["output"] is None
    assert trace["input"] is None and trace["output"] is None
