"""Accept-time check of an OTLP request: is it decodable, and which items are invalid?

The answer feeds OTLP partial success; the worker's decoder applies the same per-span rules
later (`protobuf_decoder.span_ids`, `checks.span_times`), so what the client was told was
accepted is what gets stored. For protobuf only ids and times are checked here, after a full upb
parse (which also validates every string's UTF-8 in C, ~2 µs a span): decoding each attribute
from Python, as the worker does, would cost several times more on the request's critical path.
JSON bodies get the full decode (they must be parsed as Python objects anyway).

Logs get the decode the worker does (`otel/logs.py`); metrics are only parsed and counted,
since they are acknowledged and not kept.
"""

from __future__ import annotations

import msgspec
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spyglass.collector.otel import OtlpDecodeError, decode_otlp
from spyglass.collector.otel.checks import SpanRejected, span_times
from spyglass.collector.otel.json_decoder import read_json_document
from spyglass.collector.otel.logs import decode_logs
from spyglass.collector.otel.protobuf_decoder import span_ids
from spyglass.collector.otel.spans import Rejections


class Inspection(msgspec.Struct, frozen=True):
    total: int
    rejected: int
    message: str
    # Whether anything in the body is kept (log records outside a trace are not).
    keep: bool = True


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


def inspect_logs(body: bytes, fmt: str) -> Inspection:
    decoded = decode_logs(body, fmt)
    rejections = decoded.rejections
    return Inspection(
        decoded.total, rejections.count, rejections.message(decoded.total, "log records"), bool(decoded.records)
    )


def inspect_metrics(body: bytes, fmt: str) -> Inspection:
    """Count the data points of a well-formed export (metrics are acknowledged, not kept)."""
    if fmt == "json":
        document = read_json_document(body)
        if not isinstance(document, dict):
            raise OtlpDecodeError("OTLP/JSON: the body must be an object")
        return Inspection(_json_points(document), 0, "", keep=False)
    try:
        request = ExportMetricsServiceRequest.FromString(body)
    except DecodeError as exc:
        raise OtlpDecodeError(f"malformed OTLP protobuf body: {exc}") from None
    points = 0
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind is not None:
                    points += len(getattr(metric, kind).data_points)
    return Inspection(points, 0, "", keep=False)


_METRIC_KINDS = ("gauge", "sum", "histogram", "exponentialHistogram", "exponential_histogram", "summary")


def _json_points(document: dict[str, object]) -> int:
    points = 0
    for resource_metrics in _items(document, "resourceMetrics", "resource_metrics"):
        for scope_metrics in _items(resource_metrics, "scopeMetrics", "scope_metrics"):
            for metric in _items(scope_metrics, "metrics", "metrics"):
                for kind in _METRIC_KINDS:
                    data = metric.get(kind)
                    if isinstance(data, dict):
                        points += len(_items(data, "dataPoints", "data_points"))
    return points


def _items(obj: object, camel: str, snake: str) -> list[dict[str, object]]:
    if not isinstance(obj, dict):
        raise OtlpDecodeError(f"OTLP/JSON: an element holding {camel} must be an object")
    value = obj.get(camel, obj.get(snake))
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise OtlpDecodeError(f"OTLP/JSON: {camel} must be an array of objects")
    return value
