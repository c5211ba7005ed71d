"""Builders for OTLP exports made with the real opentelemetry-proto classes, plus a real
Langfuse v5 client and a plain OTel SDK tracer whose spans are captured in memory and
encoded exactly as their OTLP exporters would send them (`encode_spans`)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from spyglass.collector.otel import MapResult, decode_json_export, decode_protobuf_export, map_export
from spyglass.store.clickhouse.rows import ObservationRow

T0 = 1_790_000_000_123_456_789  # 2026-09-21T14:13:20.123456789Z
RECEIVED = 1_790_000_100.5
PROJECT = "proj-1"
TRACE = "0af7651916cd43dd8448eb211c80319c"
OTHER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def any_value(value: Any) -> AnyValue:
    if isinstance(value, AnyValue):
        return value
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, (list, tuple)):
        out = AnyValue()
        out.array_value.values.extend(any_value(item) for item in value)
        return out
    if isinstance(value, dict):
        out = AnyValue()
        out.kvlist_value.values.extend(key_values(value))
        return out
    return AnyValue(string_value=str(value))


def key_values(attrs: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=any_value(value)) for key, value in attrs.items()]


def span_id(n: int) -> str:
    return f"{n:016x}"


def make_span(
    *,
    trace_id: str = TRACE,
    sid: int = 1,
    parent: int | str | None = None,
    name: str = "span",
    attrs: dict[str, Any] | None = None,
    start: int = T0,
    end: int | None = T0 + 1_500_000_000,
    kind: int = Span.SPAN_KIND_INTERNAL,
    events: list[tuple[str, int, dict[str, Any]]] = (),  # type: ignore[assignment]
    links: list[tuple[str, str, dict[str, Any]]] = (),  # type: ignore[assignment]
    status: tuple[int, str] = (0, ""),
) -> Span:
    span = Span(
        trace_id=bytes.fromhex(trace_id),
        span_id=bytes.fromhex(span_id(sid)),
        name=name,
        kind=kind,
        start_time_unix_nano=start,
        end_time_unix_nano=end or 0,
        status=Status(code=status[0], message=status[1]),
        flags=256,
    )
    if parent is not None:
        span.parent_span_id = bytes.fromhex(parent if isinstance(parent, str) else span_id(parent))
    span.attributes.extend(key_values(attrs or {}))
    for event_name, when, event_attrs in events:
        event = span.events.add(name=event_name, time_unix_nano=when)
        event.attributes.extend(key_values(event_attrs))
    for link_trace, link_span, link_attrs in links:
        link = span.links.add(trace_id=bytes.fromhex(link_trace), span_id=bytes.fromhex(link_span))
        link.attributes.extend(key_values(link_attrs))
    return span


def make_request(
    spans: list[Span],
    *,
    resource: dict[str, Any] | None = None,
    scope: str = "langfuse-sdk",
    scope_version: str = "5.0.4",
    scope_attrs: dict[str, Any] | None = None,
) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        key_values(resource if resource is not None else {"service.name": "unknown_service:python"})
    )
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = scope
    scope_spans.scope.version = scope_version
    scope_spans.scope.attributes.extend(key_values(scope_attrs or {}))
    scope_spans.spans.extend(spans)
    return request


def otlp_json(request: ExportTraceServiceRequest, *, ints_as_numbers: bool = True) -> bytes:
    """OTLP/JSON as the JS exporter writes it: camelCase, hex ids, enums as numbers."""
    doc = MessageToDict(request, use_integers_for_enums=True)

    def fix(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                    out[key] = base64.b64decode(value).hex()
                elif key == "intValue" and ints_as_numbers:
                    out[key] = int(value)
                else:
                    out[key] = fix(value)
            return out
        if isinstance(node, list):
            return [fix(item) for item in node]
        return node

    return json.dumps(fix(doc)).encode()


def map_request(request: ExportTraceServiceRequest, *, received_at: float = RECEIVED) -> MapResult:
    return map_export(decode_protobuf_export(request.SerializeToString()), project_id=PROJECT, received_at=received_at)


def map_json(body: bytes, *, received_at: float = RECEIVED) -> MapResult:
    return map_export(decode_json_export(body), project_id=PROJECT, received_at=received_at)


def only(result: MapResult) -> ObservationRow:
    assert result.rejected_count == 0, result.error_message
    assert len(result.observations) == 1
    return result.observations[0]


def by_name(result: MapResult) -> dict[str, ObservationRow]:
    return {row.name: row for row in result.observations}


class LangfuseCapture:
    """A real Langfuse v5 client whose exporter keeps the spans in memory."""

    def __init__(self, **client_options: Any) -> None:
        from langfuse import Langfuse

        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        # One client per test: the SDK keeps a client per public key.
        self.public_key = f"pk-lf-{uuid.uuid4().hex[:12]}"
        self.client = Langfuse(
            public_key=self.public_key,
            secret_key="sk-lf-test",
            base_url="http://127.0.0.1:9",
            tracer_provider=self.provider,
            span_exporter=self.exporter,
            **client_options,
        )

    def request(self) -> ExportTraceServiceRequest:
        self.client.flush()
        return encode_spans(self.exporter.get_finished_spans())

    def close(self) -> None:
        self.client.shutdown()


class OtelCapture:
    """A plain OTel SDK tracer (what third-party instrumentations use)."""

    def __init__(self, resource: dict[str, Any] | None = None) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider(resource=Resource.create(resource or {}))
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def tracer(self, scope: str, version: str = "1.0.0") -> Any:
        return self.provider.get_tracer(scope, version)

    def request(self) -> ExportTraceServiceRequest:
        return encode_spans(self.exporter.get_finished_spans())
