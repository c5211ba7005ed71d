"""Throughput of the OTLP hot path: decode + walk + map, single core.

Builds realistic exports with the real opentelemetry-proto classes: batches of 512 spans
(the BatchSpanProcessor default) spread over traces of 8 spans, ~20 attributes each, 40 %
generations with 2 KB input and output. Three quarters come from the Langfuse SDK scope,
the rest from an OpenInference-instrumented library (flattened messages, token counts).

    .venv/bin/python bench/bench_otel_map.py [--batches 40] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from spyglass.collector.otel import (
    decode_json_export,
    decode_protobuf,
    decode_protobuf_export,
    map_export,
    walk_protobuf,
)

BATCH_SPANS = 512
SPANS_PER_TRACE = 8
GENERATION_SHARE = 0.4
SDK_SHARE = 0.75
T0 = 1_790_000_000_000_000_000


def _kv(key: str, value: object) -> KeyValue:
    kv = KeyValue(key=key)
    if isinstance(value, bool):
        kv.value.bool_value = value
    elif isinstance(value, int):
        kv.value.int_value = value
    elif isinstance(value, float):
        kv.value.double_value = value
    elif isinstance(value, list):
        kv.value.array_value.values.extend(AnyValue(string_value=str(v)) for v in value)
    else:
        kv.value.string_value = str(value)
    return kv


def _messages(rng: random.Random, size: int) -> str:
    words = " ".join(rng.choice(("alpha", "beta", "gamma", "delta", "omega")) for _ in range(size // 6))
    return json.dumps([{"role": "system", "content": "You are terse."}, {"role": "user", "content": words}])


def _sdk_attributes(rng: random.Random, generation: bool, trace_no: int) -> dict[str, object]:
    attrs: dict[str, object] = {
        "langfuse.observation.type": "generation" if generation else "span",
        "langfuse.environment": "production",
        "langfuse.release": "v1.4.2",
        "langfuse.version": "7",
        "user.id": f"user-{trace_no % 97}",
        "session.id": f"session-{trace_no % 31}",
        "langfuse.trace.name": "chat-turn",
        "langfuse.trace.tags": ["web", "beta"],
        "langfuse.trace.metadata.tenant": '"acme"',
        "langfuse.observation.metadata.request_id": f'"req-{rng.randrange(10**9)}"',
        "langfuse.observation.metadata.attempt": "1",
        "langfuse.observation.metadata.flags": '{"a":[1,2]}',
    }
    if generation:
        attrs.update(
            {
                "langfuse.observation.input": _messages(rng, 2048),
                "langfuse.observation.output": json.dumps({"role": "assistant", "content": "x" * 2000}),
                "langfuse.observation.model.name": "gpt-4o-mini",
                "langfuse.observation.model.parameters": '{"temperature": 0.2, "max_tokens": 512}',
                "langfuse.observation.usage_details": '{"input": 812, "output": 240, "total": 1052}',
                "langfuse.observation.cost_details": '{"input": 0.0012, "output": 0.0024}',
                "langfuse.observation.completion_start_time": '"2026-09-21T10:00:00.250000Z"',
                "langfuse.observation.prompt.name": "support/answer",
                "langfuse.observation.prompt.version": 3,
            }
        )
    else:
        attrs.update(
            {
                "langfuse.observation.input": json.dumps({"args": ["question?"], "kwargs": {"k": 1}}),
                "langfuse.observation.output": "a short answer",
                "langfuse.observation.metadata.step": '"retrieve"',
                "langfuse.observation.metadata.docs": "4",
                "langfuse.observation.level": "DEFAULT",
                "code.function": "handle",
                "thread.id": 140230,
                "langfuse.observation.metadata.cache": "false",
            }
        )
    return attrs


def _openinference_attributes(rng: random.Random, generation: bool, trace_no: int) -> dict[str, object]:
    attrs: dict[str, object] = {
        "openinference.span.kind": "LLM" if generation else "CHAIN",
        "session.id": f"session-{trace_no % 31}",
        "user.id": f"user-{trace_no % 97}",
        "metadata": '{"tenant": "acme"}',
        "tag.tags": ["web"],
    }
    if generation:
        attrs.update(
            {
                "llm.model_name": "gpt-4o-2024-08-06",
                "llm.provider": "openai",
                "llm.invocation_parameters": '{"temperature": 0.7}',
                "llm.input_messages.0.message.role": "system",
                "llm.input_messages.0.message.content": "You are terse.",
                "llm.input_messages.1.message.role": "user",
                "llm.input_messages.1.message.content": "q" * 2000,
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": "a" * 2000,
                "llm.token_count.prompt": 900,
                "llm.token_count.completion": 300,
                "llm.token_count.total": 1200,
                "llm.token_count.prompt_details.cache_read": 128,
                "input.mime_type": "application/json",
                "output.mime_type": "text/plain",
            }
        )
    else:
        attrs.update(
            {
                "input.value": json.dumps({"question": "why?" * 20}),
                "output.value": "because " * 20,
                "input.mime_type": "application/json",
                "output.mime_type": "text/plain",
                "code.namespace": "app.chain",
                "code.lineno": 42,
                "retrieval.documents.0.document.content": "doc " * 30,
                "retrieval.documents.0.document.score": 0.82,
                "thread.name": "MainThread",
                "process.pid": 4242,
            }
        )
    return attrs


def build_request(rng: random.Random, batch_no: int) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        [
            _kv("service.name", "chat-api"),
            _kv("telemetry.sdk.language", "python"),
            _kv("telemetry.sdk.name", "opentelemetry"),
            _kv("telemetry.sdk.version", "1.45.2"),
            _kv("service.instance.id", "c0ffee"),
        ]
    )
    sdk_scope = resource_spans.scope_spans.add()
    sdk_scope.scope.name = "langfuse-sdk"
    sdk_scope.scope.version = "5.0.4"
    sdk_scope.scope.attributes.append(_kv("public_key", "pk-lf-bench"))
    oi_scope = resource_spans.scope_spans.add()
    oi_scope.scope.name = "openinference.instrumentation.openai"
    oi_scope.scope.version = "0.1.30"

    for i in range(BATCH_SPANS):
        trace_no = batch_no * BATCH_SPANS // SPANS_PER_TRACE + i // SPANS_PER_TRACE
        position = i % SPANS_PER_TRACE
        generation = rng.random() < GENERATION_SHARE
        sdk = rng.random() < SDK_SHARE
        span = (sdk_scope if sdk else oi_scope).spans.add()
        span.trace_id = (trace_no + 1).to_bytes(16, "big")
        span.span_id = (trace_no * SPANS_PER_TRACE + position + 1).to_bytes(8, "big")
        if position:
            span.parent_span_id = (trace_no * SPANS_PER_TRACE + 1).to_bytes(8, "big")
        span.name = "llm-call" if generation else f"step-{position}"
        span.kind = 1
        span.start_time_unix_nano = T0 + trace_no * 10**9 + position * 10**6 + 123_456
        span.end_time_unix_nano = span.start_time_unix_nano + 850_000_789
        span.flags = 256
        attrs = (_sdk_attributes if sdk else _openinference_attributes)(rng, generation, trace_no)
        span.attributes.extend(_kv(k, v) for k, v in attrs.items())
    return request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=40, help="requests of 512 spans to time")
    parser.add_argument("--rounds", type=int, default=5, help="best of this many rounds")
    parser.add_argument("--json", action="store_true", help="also time the OTLP/JSON path")
    args = parser.parse_args()

    rng = random.Random(7)
    requests = [build_request(rng, n) for n in range(args.batches)]
    bodies = [r.SerializeToString() for r in requests]
    spans = args.batches * BATCH_SPANS
    attributes = sum(
        len(s.attributes) for r in requests for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans
    )
    print(
        f"{spans} spans, {attributes / spans:.1f} attributes/span, "
        f"{sum(map(len, bodies)) / spans:.0f} protobuf bytes/span"
    )

    def run(label: str, step) -> None:
        # CPU time of this process, best of N: other work on a shared machine inflates
        # wall time but not the CPU this process itself needs.
        best = float("inf")
        for _ in range(args.rounds):
            gc.collect()
            started = time.process_time()
            for body in bodies:
                step(body)
            best = min(best, time.process_time() - started)
        print(f"{label:<46} {spans / best:>10,.0f} spans/s  ({best / spans * 1e6:.1f} µs/span CPU)")

    run("protobuf parse (opentelemetry-proto)", decode_protobuf)
    run("protobuf parse + walk (opentelemetry-proto)", lambda body: walk_protobuf(decode_protobuf(body)))
    run("protobuf decode_protobuf_export (wire view)", decode_protobuf_export)
    run(
        "protobuf decode + map  <- hot path",
        lambda body: map_export(decode_protobuf_export(body), project_id="p", received_at=1.0),
    )
    if args.json:
        json_bodies = [json.dumps(MessageToDict(r)).encode() for r in requests]
        body_iter = iter(json_bodies * args.rounds)
        run(
            "OTLP/JSON decode + walk + map",
            lambda _body: map_export(decode_json_export(next(body_iter)), project_id="p", received_at=1.0),
        )


if __name__ == "__main__":
    main()
