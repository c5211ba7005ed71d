"""OTLP/protobuf → the neutral span walk.

Two entry points, one result:
- `decode_protobuf_export(body)`, the hot path for HTTP bodies: parses with the reading
  view of `wire_schema`, whose attributes upb hands over as serialized KeyValues.
- `walk_protobuf(request)` for an already parsed opentelemetry-proto
  `ExportTraceServiceRequest` (e.g. what a gRPC servicer is handed).
Both views name their fields alike, so one walk serves both; only the attribute decoder
differs. Parsing with upb costs about a microsecond per span; what costs is touching
fields from Python (each access builds an object), so the walk reads every field once.

`span_ids` holds the per-span id rules for both, and for the receivers' accept-time check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spyglass.collector.otel.checks import (
    INVALID_PARENT_ID,
    INVALID_SPAN_ID,
    INVALID_TRACE_ID,
    MALFORMED_SPAN,
    SPAN_ID_BYTES,
    TRACE_ID_BYTES,
    ZERO_SPAN_ID,
    ZERO_TRACE_ID,
    SpanRejected,
    span_times,
)
from spyglass.collector.otel.errors import OtlpDecodeError
from spyglass.collector.otel.protobuf_values import message_attributes, wire_attributes
from spyglass.collector.otel.spans import (
    Attributes,
    DecodedExport,
    RawSpan,
    Rejections,
    SpanEvent,
    SpanGroup,
    SpanLink,
)
from spyglass.collector.otel.wire_schema import WireRequest

AttributeDecoder = Callable[[Any], Attributes]
_parse = ExportTraceServiceRequest.FromString
_parse_wire = WireRequest.FromString
_WIRE_NAME = WireRequest.DESCRIPTOR.full_name
_OTLP_NAME = ExportTraceServiceRequest.DESCRIPTOR.full_name


def decode_protobuf(body: bytes) -> ExportTraceServiceRequest:
    """Parse an OTLP/protobuf trace export; a malformed body raises OtlpDecodeError."""
    try:
        return _parse(body)
    except Exception as exc:  # upb raises DecodeError, but the contract is one error type
        raise OtlpDecodeError(f"malformed OTLP protobuf body: {exc}") from None


def decode_protobuf_export(body: bytes) -> DecodedExport:
    """Decode an OTLP/protobuf trace export body; a malformed body raises OtlpDecodeError."""
    return _walk(_parse_wire_body(body), wire_attributes)


def _parse_wire_body(body: bytes) -> Any:
    try:
        return _parse_wire(body)
    except Exception as exc:
        # Name the OTLP message the client sent, not our private reading view of it.
        reason = str(exc).replace(_WIRE_NAME, _OTLP_NAME)
        raise OtlpDecodeError(f"malformed OTLP protobuf body: {reason}") from None


def walk_protobuf(request: ExportTraceServiceRequest) -> DecodedExport:
    """Validate every span of a parsed request and regroup it into the neutral walk."""
    return _walk(request, message_attributes)


def span_ids(span: Any) -> tuple[bytes, bytes, bytes | None]:
    """(trace id, span id, parent id or None) of a span of either view; SpanRejected if one
    is invalid. Times are `checks.span_times`."""
    trace_id = span.trace_id
    if len(trace_id) != TRACE_ID_BYTES or trace_id == ZERO_TRACE_ID:
        raise SpanRejected(INVALID_TRACE_ID)
    span_id = span.span_id
    if len(span_id) != SPAN_ID_BYTES or span_id == ZERO_SPAN_ID:
        raise SpanRejected(INVALID_SPAN_ID)
    parent = span.parent_span_id
    if not parent or parent == ZERO_SPAN_ID:
        return trace_id, span_id, None
    if len(parent) != SPAN_ID_BYTES:
        raise SpanRejected(INVALID_PARENT_ID)
    return trace_id, span_id, parent


def _span(span: Any, decode: AttributeDecoder) -> RawSpan:
    trace_id, span_id, parent = span_ids(span)
    start_ns, end_ns = span_times(span.start_time_unix_nano, span.end_time_unix_nano)
    status = span.status
    return RawSpan(
        trace_id.hex(),
        span_id.hex(),
        parent.hex() if parent is not None else None,
        span.name,
        span.kind,
        start_ns,
        end_ns,
        decode(span.attributes),
        [SpanEvent(ev.time_unix_nano, ev.name, decode(ev.attributes)) for ev in span.events]
        if len(span.events)
        else [],
        # A link's ids are kept as sent even if malformed: no reason to lose the span.
        [
            SpanLink(link.trace_id.hex(), link.span_id.hex(), link.trace_state, decode(link.attributes))
            for link in span.links
        ]
        if len(span.links)
        else [],
        status.code,
        status.message,
    )


def _walk(request: Any, decode: AttributeDecoder) -> DecodedExport:
    groups: list[SpanGroup] = []
    rejections = Rejections()
    for resource_spans in request.resource_spans:
        resource_attributes = _group_attributes(resource_spans.resource.attributes, decode, "resource")
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            scope_attributes = _group_attributes(scope.attributes, decode, "scope")
            out: list[RawSpan] = []
            for span in scope_spans.spans:
                try:
                    out.append(_span(span, decode))
                except SpanRejected as rejected:
                    rejections.add(rejected.reason, span.trace_id.hex(), span.span_id.hex())
                except Exception:  # a bad value (invalid UTF-8, broken AnyValue) costs this span only
                    rejections.add(MALFORMED_SPAN, span.trace_id.hex(), span.span_id.hex())
            if out:
                groups.append(SpanGroup(resource_attributes, scope.name, scope.version, scope_attributes, out))
    return DecodedExport(groups, rejections)


def _group_attributes(entries: Any, decode: Callable[[Any], Any], where: str) -> Any:
    """Resource and scope attributes belong to every span of their group: a bad one fails the
    whole body."""
    try:
        return decode(entries)
    except Exception as exc:
        raise OtlpDecodeError(f"malformed OTLP protobuf {where} attributes: {exc}") from None
