"""Accept-time check of an OTLP request: is it decodable, and which spans are invalid?

The answer feeds OTLP partial success; the worker's decoder applies the same per-span rules
later (`protobuf_decoder.span_ids`, `checks.span_times`), so what the client was told was
accepted is what gets stored. For protobuf only ids and times are checked here, after a full upb
parse (which also validates every string's UTF-8 in C, ~2 µs a span): decoding each attribute
from Python, as the worker does, would cost several times more on the request's critical path.
JSON bodies get the full decode (they must be parsed as Python objects anyway).
"""

from __future__ import annotations

import msgspec
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spyglass.collector.otel import OtlpDecodeError, decode_otlp
from spyglass.collector.otel.checks import SpanRejected, span_times
from spyglass.collector.otel.protobuf_decoder import span_ids
from spyglass.collector.otel.spans import Rejections


class Inspection(msgspec.Struct, frozen=True):
    total_spans: int
    rejected_spans: int
    message: str


def inspect_request(body: bytes, fmt: str) -> Inspection:
    """Raise OtlpDecodeError for a malformed body; count individually invalid spans."""
    if fmt == "json":
        export = decode_otlp(body, "application/json")
        return Inspection(export.span_count + export.rejected_count, export.rejected_count, export.error_message)
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise OtlpDecodeError(f"malformed OTLP protobuf body: {exc}") from None
    rejections = Rejections()
    total = 0
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                total += 1
                try:
                    span_ids(span)
                    span_times(span.start_time_unix_nano, span.end_time_unix_nano)
                except SpanRejected as rejected:
                    rejections.add(rejected.reason, span.trace_id.hex(), span.span_id.hex())
    return Inspection(total, rejections.count, rejections.message(total))
