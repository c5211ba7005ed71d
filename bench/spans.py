"""Realistic OTLP payloads: ~20 attributes per span, 40 % generations with 2 KB input and output,
10 spans per trace with parent links, gzip-compressed protobuf like the Langfuse v5 SDK sends."""

from __future__ import annotations

import gzip
import json
import os
import random
import time

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

MODELS = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet-20241022", "gemini-1.5-pro", "my-local-model"]
USERS = [f"user-{i}" for i in range(300)]
SESSIONS = [f"session-{i}" for i in range(500)]


def _kv(key: str, value: object) -> common_pb2.KeyValue:
    if isinstance(value, bool):
        v = common_pb2.AnyValue(bool_value=value)
    elif isinstance(value, int):
        v = common_pb2.AnyValue(int_value=value)
    elif isinstance(value, float):
        v = common_pb2.AnyValue(double_value=value)
    elif isinstance(value, list):
        v = common_pb2.AnyValue(
            array_value=common_pb2.ArrayValue(values=[common_pb2.AnyValue(string_value=x) for x in value])
        )
    else:
        v = common_pb2.AnyValue(string_value=str(value))
    return common_pb2.KeyValue(key=key, value=v)


def _text(rng: random.Random, size: int) -> str:
    words = ["the", "model", "answer", "question", "token", "latency", "trace", "span", "user", "context"]
    out = []
    n = 0
    while n < size:
        w = rng.choice(words)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)[:size]


_PROSE = (
    "When the user asks for a refund, check the order's status first; if it shipped more than 30 days "
    "ago, explain the policy (section 4.2) and offer store credit instead. Otherwise call refund_order("
    'order_id, amount) with the exact amount in EUR, e.g. 129.99, and confirm: "Your refund of €129.99 '
    "is on its way.\" Don't promise dates you can't keep. Summaries should be short, friendly and "
    "accurate; quote IDs like ORD-2024-118734 verbatim. Résumé, naïve and façade keep their accents. "
)


def _prose(rng: random.Random, size: int) -> str:
    """Text that tokenizes like real prompts (mixed case, punctuation, numbers, accents): ~1.6 times
    the tiktoken work per byte of `_text`'s ten repeated words."""
    words = _PROSE.split(" ")
    out = []
    n = 0
    while n < size:
        w = rng.choice(words)
        out.append(w)
        n += len(w) + 1
    return " ".join(out)[:size]


class Generator:
    def __init__(
        self,
        seed: int = 1,
        gen_ratio: float = 0.4,
        io_bytes: int = 2048,
        *,
        usage: bool = True,
        prose: bool = False,
        unique_text: bool = False,
    ) -> None:
        """`usage=False`: generations report no usage, so Spyglass counts it from their text
        (the OpenAI models among them: gpt-4o and gpt-4o-mini, 2 of the 5). `prose`: that text
        is `_prose`, not ten repeated words. `unique_text`: every generation's input and output
        differ from all others (a number in front), so no token count is ever seen twice."""
        self.rng = random.Random(seed)
        self.gen_ratio = gen_ratio
        self.io_bytes = io_bytes
        self.usage = usage
        self.unique_text = unique_text
        self._texts = 0
        text = _prose if prose else _text
        self.prompt = text(self.rng, io_bytes)
        self.completion = text(self.rng, io_bytes)
        self._span_counter = int.from_bytes(os.urandom(4), "big") << 24

    def batch(self, spans: int, spans_per_trace: int = 10, trace_id: bytes | None = None) -> tuple[bytes, list[str]]:
        """A gzip'd ExportTraceServiceRequest and the trace ids it holds."""
        rng = self.rng
        req = trace_service_pb2.ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        for k, v in (
            ("service.name", "bench-app"),
            ("telemetry.sdk.language", "python"),
            ("telemetry.sdk.name", "opentelemetry"),
            ("langfuse.environment", "bench"),
        ):
            rs.resource.attributes.append(_kv(k, v))
        ss = rs.scope_spans.add()
        ss.scope.name = "langfuse-sdk"
        ss.scope.version = "5.0.4"
        now = time.time_ns()
        trace_ids = []
        made = 0
        while made < spans:
            this_trace = trace_id or os.urandom(16)
            trace_ids.append(this_trace.hex())
            user, session = rng.choice(USERS), rng.choice(SESSIONS)
            root_id = None
            for i in range(min(spans_per_trace, spans - made)):
                self._span_counter += 1
                span_id = self._span_counter.to_bytes(8, "big")
                start = now - rng.randint(1_000_000, 5_000_000_000)
                span = trace_pb2.Span(
                    trace_id=this_trace,
                    span_id=span_id,
                    parent_span_id=root_id or b"",
                    name=f"step-{i}",
                    kind=trace_pb2.Span.SPAN_KIND_INTERNAL,
                    start_time_unix_nano=start,
                    end_time_unix_nano=start + rng.randint(1_000_000, 900_000_000),
                )
                attrs = [
                    ("user.id", user),
                    ("session.id", session),
                    ("langfuse.trace.tags", ["bench", "load"]),
                    ("langfuse.release", "1.2.3"),
                    ("langfuse.version", "v7"),
                    ("langfuse.trace.metadata.tenant", '"acme"'),
                    ("langfuse.observation.metadata.step", str(i)),
                    ("langfuse.observation.metadata.region", '"eu-west-1"'),
                    ("http.method", "POST"),
                    ("app.request_id", os.urandom(8).hex()),
                    ("app.retries", 0),
                    ("app.cache_hit", False),
                ]
                if i == 0:
                    attrs.append(("langfuse.trace.name", "bench-request"))
                if rng.random() < self.gen_ratio:
                    model = rng.choice(MODELS)
                    prompt, completion = self.prompt, self.completion
                    if self.unique_text:
                        self._texts += 1
                        prompt, completion = f"{self._texts} {prompt}", f"{self._texts} {completion}"
                    attrs += [
                        ("langfuse.observation.type", "generation"),
                        ("langfuse.observation.model.name", model),
                        ("langfuse.observation.model.parameters", '{"temperature": 0.2, "max_tokens": 512}'),
                        ("langfuse.observation.input", json.dumps([{"role": "user", "content": prompt}])),
                        ("langfuse.observation.output", completion),
                        ("langfuse.observation.completion_start_time", json.dumps("2026-11-22T10:00:00.123456Z")),
                        ("gen_ai.system", "openai"),
                    ]
                    if self.usage:
                        usage = {"input": rng.randint(100, 4000), "output": rng.randint(10, 800)}
                        attrs.append(("langfuse.observation.usage_details", json.dumps(usage)))
                else:
                    attrs += [
                        ("langfuse.observation.type", "span"),
                        ("langfuse.observation.input", '{"query": "short input"}'),
                        ("langfuse.observation.output", '"ok"'),
                        ("db.system", "postgresql"),
                    ]
                span.attributes.extend(_kv(k, v) for k, v in attrs)
                ss.spans.append(span)
                if root_id is None:
                    root_id = span_id
                made += 1
        return gzip.compress(req.SerializeToString(), compresslevel=1), trace_ids
