"""OTLP log exports (ExportLogsServiceRequest, protobuf or JSON) → validated log records.

Spyglass keeps the log records that belong to a trace: each becomes an event of its
observation (`log_events.py`). A record without a trace id is acknowledged and not kept (this
is not a log store); one whose ids or time cannot be real is rejected on its own, as an invalid
span is (OTLP partial success).
"""

from __future__ import annotations

from typing import Any

import msgspec
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from spyglass.collector.otel.checks import (
    INVALID_SPAN_ID,
    INVALID_TRACE_ID,
    MAX_TIME_NS,
    MIN_TIME_NS,
    SPAN_ID_BYTES,
    TIME_OUT_OF_RANGE,
    TRACE_ID_BYTES,
    SpanRejected,
    id_from_text,
)
from spyglass.collector.otel.errors import OtlpDecodeError
from spyglass.collector.otel.json_decoder import any_value as json_value
from spyglass.collector.otel.json_decoder import attributes as json_attributes
from spyglass.collector.otel.json_decoder import json_list, json_object, read_json_document
from spyglass.collector.otel.protobuf_values import message_attributes, message_value
from spyglass.collector.otel.spans import Attributes, Rejections

MALFORMED_RECORD = "malformed log record"
# Instrumentations written before LogRecord had `event_name` put the name here.
_EVENT_NAME_ATTRIBUTE = "event.name"

_parse = ExportLogsServiceRequest.FromString


class LogRecord(msgspec.Struct, frozen=True):
    """A log record tied to a trace; `span_id` is "" for one tied to the trace only."""

    trace_id: str
    span_id: str
    time_ns: int
    name: str
    severity_number: int
    severity_text: str
    body: Any
    attributes: Attributes
    service_name: str | None
    scope_name: str


class DecodedLogs(msgspec.Struct):
    records: list[LogRecord]
    total: int
    # Records without a trace: acknowledged, not kept.
    unattached: int
    rejections: Rejections


def decode_logs(body: bytes, fmt: str) -> DecodedLogs:
    """Raise OtlpDecodeError for a malformed body; reject individually invalid records."""
    if fmt == "json":
        return _walk_json(read_json_document(body))
    try:
        request = _parse(body)
    except Exception as exc:  # upb raises DecodeError; the contract is one error type
        raise OtlpDecodeError(f"malformed OTLP protobuf body: {exc}") from None
    return _walk_protobuf(request)


def _record_time(time_ns: int, observed_ns: int) -> int:
    """The event time, else when the SDK observed it (instrumentations often set only that);
    0 when neither is set (the worker uses the receive time)."""
    moment = time_ns or observed_ns
    if moment and not MIN_TIME_NS <= moment <= MAX_TIME_NS:
        raise SpanRejected(TIME_OUT_OF_RANGE)
    return moment


def _event_name(name: str, attrs: Attributes) -> str:
    if name:
        return name
    legacy = attrs.get(_EVENT_NAME_ATTRIBUTE)
    return legacy if isinstance(legacy, str) else ""


def _walk_protobuf(request: Any) -> DecodedLogs:
    records: list[LogRecord] = []
    rejections = Rejections()
    total = unattached = 0
    for resource_logs in request.resource_logs:
        service = _service_name(_group(message_attributes, resource_logs.resource.attributes, "resource"))
        for scope_logs in resource_logs.scope_logs:
            scope_name = scope_logs.scope.name
            for record in scope_logs.log_records:
                total += 1
                trace_id, span_id = record.trace_id, record.span_id
                try:
                    if not trace_id:
                        unattached += 1
                        continue
                    if len(trace_id) != TRACE_ID_BYTES or not any(trace_id):
                        raise SpanRejected(INVALID_TRACE_ID)
                    if span_id and (len(span_id) != SPAN_ID_BYTES or not any(span_id)):
                        raise SpanRejected(INVALID_SPAN_ID)
                    moment = _record_time(record.time_unix_nano, record.observed_time_unix_nano)
                    attrs = message_attributes(record.attributes)
                    records.append(
                        LogRecord(
                            trace_id.hex(),
                            span_id.hex(),
                            moment,
                            _event_name(record.event_name, attrs),
                            record.severity_number,
                            record.severity_text,
                            message_value(record.body) if record.HasField("body") else None,
                            attrs,
                            service,
                            scope_name,
                        )
                    )
                except SpanRejected as rejected:
                    rejections.add(rejected.reason, trace_id.hex(), span_id.hex())
                except Exception:  # a broken value costs this record only
                    rejections.add(MALFORMED_RECORD, trace_id.hex(), span_id.hex())
    return DecodedLogs(records, total, unattached, rejections)


def _json_int(raw: Any) -> int:
    if raw is None:
        return 0
    if isinstance(raw, bool):
        raise ValueError("not an integer")
    return int(raw)


def _walk_json(document: Any) -> DecodedLogs:
    records: list[LogRecord] = []
    rejections = Rejections()
    total = unattached = 0
    for resource_logs in json_list(json_object(document, "the body"), "resourceLogs", "resource_logs", "resourceLogs"):
        resource_logs = json_object(resource_logs, "resourceLogs[]")
        resource = json_object(resource_logs.get("resource"), "resource")
        service = _service_name(_group(json_attributes, resource.get("attributes"), "resource"))
        for scope_logs in json_list(resource_logs, "scopeLogs", "scope_logs", "scopeLogs"):
            scope_logs = json_object(scope_logs, "scopeLogs[]")
            scope_name = str(json_object(scope_logs.get("scope"), "scope").get("name") or "")
            for raw in json_list(scope_logs, "logRecords", "log_records", "logRecords"):
                total += 1
                trace_text = raw.get("traceId", raw.get("trace_id")) if isinstance(raw, dict) else None
                span_text = raw.get("spanId", raw.get("span_id")) if isinstance(raw, dict) else None
                try:
                    if not isinstance(raw, dict):
                        raise ValueError("a log record must be an object")
                    if not trace_text:
                        unattached += 1
                        continue
                    trace_id = id_from_text(trace_text, TRACE_ID_BYTES, INVALID_TRACE_ID)
                    span_id = id_from_text(span_text, SPAN_ID_BYTES, INVALID_SPAN_ID) if span_text else ""
                    moment = _record_time(
                        _json_int(raw.get("timeUnixNano", raw.get("time_unix_nano"))),
                        _json_int(raw.get("observedTimeUnixNano", raw.get("observed_time_unix_nano"))),
                    )
                    attrs = json_attributes(raw.get("attributes"))
                    severity = raw.get("severityNumber", raw.get("severity_number"))
                    records.append(
                        LogRecord(
                            trace_id,
                            span_id,
                            moment,
                            _event_name(str(raw.get("eventName", raw.get("event_name")) or ""), attrs),
                            _severity_number(severity),
                            str(raw.get("severityText", raw.get("severity_text")) or ""),
                            json_value(raw.get("body")),
                            attrs,
                            service,
                            scope_name,
                        )
                    )
                except SpanRejected as rejected:
                    rejections.add(rejected.reason, _text(trace_text), _text(span_text))
                except Exception:
                    rejections.add(MALFORMED_RECORD, _text(trace_text), _text(span_text))
    return DecodedLogs(records, total, unattached, rejections)


# OTLP/JSON writers may send enums by name.
_SEVERITY_NAMES = {
    "SEVERITY_NUMBER_UNSPECIFIED": 0,
    **{
        f"SEVERITY_NUMBER_{level}{'' if i == 1 else i}": base + i - 1
        for level, base in (("TRACE", 1), ("DEBUG", 5), ("INFO", 9), ("WARN", 13), ("ERROR", 17), ("FATAL", 21))
        for i in range(1, 5)
    },
}


def _severity_number(raw: Any) -> int:
    if isinstance(raw, str) and not raw.isdigit():
        return _SEVERITY_NAMES.get(raw, 0)
    return _json_int(raw)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _group(decode: Any, entries: Any, where: str) -> Attributes:
    """Resource attributes belong to every record of their group: a bad one fails the body."""
    try:
        return decode(entries)
    except Exception as exc:
        raise OtlpDecodeError(f"malformed OTLP {where} attributes: {exc}") from None


def _service_name(resource: Attributes) -> str | None:
    name = resource.get("service.name")
    return name if isinstance(name, str) else None
