"""Throughput of the OTLP hot path: decode + walk + map, single core.

Builds realistic exports with the real opentelemetry-proto classes: batches of 512 spans
(the BatchSpanProcessor default) spread over traces of 8 spans, ~20 attributes each, 40 %
generations with 2 KB input and output. Three quarters come from the Langfuse SDK scope,
the rest from an OpenInference-instrumented library (flattened messages, token counts).

    .venv/bin/python bench/bench_otel_map.py [--batches 40] [--json]

`--stages` instead times each step of a mapping process's whole path (decode, map, price,
encode, pickle back to the parent) in µs/span, on these payloads and on `bench/spans.py`'s
(the ingest benchmark's generator), plus the path end to end (`map_payload` + pickle). Every
step but the last runs over the same payloads again and again, so the decoder's caches hold
even the values seen once (request ids, usage); the last line maps payloads it has never seen,
as a mapping process does.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import pickle
import random
import time
from collections.abc import Callable
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from spyglass.collector.otel import (
    decode_json_export,
    decode_otlp,
    decode_protobuf,
    decode_protobuf_export,
    map_export,
    walk_protobuf,
)
from spyglass.collector.worker.encode import json_each_row
from spyglass.collector.worker.map_pool import MappedPayload, MapTask, ProjectModels, map_payload, needs_worker
from spyglass.collector.worker.price import price_row

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


def _spans_bodies(batches: int) -> list[bytes]:
    """The ingest benchmark's payloads (bench/spans.py), inflated as the worker sees them."""
    from spans import Generator  # bench/ is the script's directory, so it is importable

    generator = Generator(seed=11)
    return [gzip.decompress(generator.batch(500)[0]) for _ in range(batches)]


def _time_stages(label: str, bodies: list[bytes], rounds: int, fresh: list[list[bytes]] | None = None) -> None:
    """Best-of-N CPU time of each step a mapping process takes, per span. Each step is fed the
    previous step's output (computed beforehand), so a step is timed on its own."""
    content_type = "application/x-protobuf"
    exports = [decode_otlp(body, content_type) for body in bodies]
    spans = sum(export.span_count for export in exports)
    results = [map_export(export, project_id="p", received_at=1.0) for export in exports]
    matcher_owner = map_payload(MapTask(bodies[0], "pb", "p", 1.0, ProjectModels(0)))  # compiles the catalog
    assert not isinstance(matcher_owner, str)
    from spyglass.collector.worker import map_pool

    matcher = map_pool._project_matcher("p", ProjectModels(0))
    unique = [list({row.id: row for row in result.observations}.values()) for result in results]
    priced = [[price_row(matcher, "p", row) for row in rows] for rows in unique]
    payloads = [map_payload(MapTask(body, "pb", "p", 1.0, ProjectModels(0))) for body in bodies]

    def price_all() -> None:
        for rows in unique:
            for row in rows:
                price_row(matcher, "p", row)

    def encode_all() -> None:
        for rows in priced:
            json_each_row([row for row in rows if not needs_worker(row)])

    def pickle_all() -> None:
        for payload in payloads:
            pickle.dumps(payload)

    def end_to_end() -> None:
        for body in bodies:
            pickle.dumps(map_payload(MapTask(body, "pb", "p", 1.0, ProjectModels(0))))

    def decode_all() -> None:
        for body in bodies:
            decode_otlp(body, content_type)

    def map_all() -> None:
        for export in exports:
            map_export(export, project_id="p", received_at=1.0)

    unseen = iter(fresh or [])

    def end_to_end_unseen() -> None:
        for body in next(unseen):
            pickle.dumps(map_payload(MapTask(body, "pb", "p", 1.0, ProjectModels(0))))

    steps: list[tuple[str, Callable[[], Any]]] = [
        ("decode", decode_all),
        ("map", map_all),
        ("price", price_all),
        ("encode", encode_all),
        ("pickle", pickle_all),
        ("whole path (map_payload + pickle)", end_to_end),
    ]
    if fresh:
        steps.append(("whole path, payloads not seen before", end_to_end_unseen))
    # Each step keeps one payload's results alive at a time, as a mapping process does; the
    # inputs prepared above are frozen so that collections do not walk them again and again.
    gc.collect()
    gc.freeze()
    print(f"{label}: {len(bodies)} payloads, {spans} spans")
    for name, step in steps:
        best = float("inf")
        for _ in range(rounds):
            started = time.process_time()
            step()
            best = min(best, time.process_time() - started)
        print(f"  {name:<36} {best / spans * 1e6:7.1f} µs/span")
    assert all(isinstance(p, MappedPayload) for p in payloads)
    gc.unfreeze()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=40, help="requests of 512 spans to time")
    parser.add_argument("--rounds", type=int, default=5, help="best of this many rounds")
    parser.add_argument("--json", action="store_true", help="also time the OTLP/JSON path")
    parser.add_argument("--stages", action="store_true", help="time each step of a mapping process instead")
    args = parser.parse_args()

    if args.stages:
        rng = random.Random(7)
        _time_stages(
            "bench/spans.py payloads",
            _spans_bodies(args.batches),
            args.rounds,
            [_spans_bodies(args.batches) for _ in range(args.rounds)],
        )
        _time_stages(
            "bench_otel_map payloads (SDK + OpenInference)",
            [build_request(rng, n).SerializeToString() for n in range(args.batches)],
            args.rounds,
        )
        return

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
