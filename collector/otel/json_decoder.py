"""OTLP/JSON → the neutral span walk.

msgspec's generic decoder turns the body into dicts and lists at C speed; the walk below
then reads them tolerantly, the way real producers write them: lowerCamelCase keys (the
spec) or snake_case ones (proto field names), hex ids (or base64 from proto3 JSON
mappers), 64-bit integers as JSON numbers or decimal strings, enums as numbers or names.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from spyglass.collector.json_depth import JsonTooDeep, check_depth
from spyglass.collector.otel.checks import (
    INVALID_SPAN_ID,
    INVALID_TRACE_ID,
    MALFORMED_SPAN,
    SPAN_ID_BYTES,
    TIME_OUT_OF_RANGE,
    TRACE_ID_BYTES,
    SpanRejected,
    id_from_text,
    parent_from_text,
    span_times,
)
from spyglass.collector.otel.errors import OtlpDecodeError
from spyglass.collector.otel.spans import (
    Attributes,
    DecodedExport,
    RawSpan,
    Rejections,
    SpanEvent,
    SpanGroup,
    SpanLink,
)

_decode = msgspec.json.decode

_STRING, _BOOL, _INT, _DOUBLE, _ARRAY, _KVLIST, _BYTES = range(7)
_VALUE_KINDS = {
    "stringValue": _STRING,
    "string_value": _STRING,
    "boolValue": _BOOL,
    "bool_value": _BOOL,
    "intValue": _INT,
    "int_value": _INT,
    "doubleValue": _DOUBLE,
    "double_value": _DOUBLE,
    "arrayValue": _ARRAY,
    "array_value": _ARRAY,
    "kvlistValue": _KVLIST,
    "kvlist_value": _KVLIST,
    "bytesValue": _BYTES,
    "bytes_value": _BYTES,
}
_SPAN_KINDS = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
_STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_SPECIAL_DOUBLES = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _get(obj: dict[str, Any], camel: str, snake: str) -> Any:
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def _int64(raw: Any) -> int:
    if type(raw) is int:
        return raw
    if isinstance(raw, str):
        return int(raw)
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    raise ValueError(f"not an integer: {raw!r}")


def _value(raw: Any) -> Any:
    if raw is None:
        return None
    if type(raw) is not dict:
        raise ValueError("attribute value must be an object")
    for key, inner in raw.items():
        kind = _VALUE_KINDS.get(key)
        if kind is None:
            continue
        if kind == _STRING:
            if not isinstance(inner, str):
                raise ValueError("stringValue must be a string")
            return inner
        if kind == _INT:
            return _int64(inner)
        if kind == _BOOL:
            if isinstance(inner, bool):
                return inner
            if inner in ("true", "false"):
                return inner == "true"
            raise ValueError("boolValue must be a boolean")
        if kind == _DOUBLE:
            if isinstance(inner, str):
                special = _SPECIAL_DOUBLES.get(inner)
                return special if special is not None else float(inner)
            if isinstance(inner, (int, float)) and not isinstance(inner, bool):
                return float(inner)
            raise ValueError("doubleValue must be a number")
        if kind == _BYTES:
            if not isinstance(inner, str):
                raise ValueError("bytesValue must be a base64 string")
            return inner
        values = [] if inner is None else inner.get("values") or []
        if not isinstance(values, list):
            raise ValueError("arrayValue/kvlistValue values must be an array")
        return [_value(item) for item in values] if kind == _ARRAY else attributes(values)
    return None


# An OTLP/JSON AnyValue (log bodies use it too).
any_value = _value


def attributes(raw: Any) -> Attributes:
    if not raw:
        return {}
    if type(raw) is not list:
        raise ValueError("attributes must be an array")
    out: Attributes = {}
    for kv in raw:
        # Proto3 JSON writers omit default values, so an empty key may be missing.
        key = kv.get("key", "")
        if type(key) is not str:
            raise ValueError("attribute key must be a string")
        value = kv.get("value")
        # The common case first: a plain string value.
        text = value.get("stringValue") if type(value) is dict else None
        out[key] = text if type(text) is str else _value(value)
    return out


def _enum(raw: Any, names: dict[str, int]) -> int:
    if raw is None:
        return 0
    if isinstance(raw, str):
        number = names.get(raw)
        return number if number is not None else int(raw)
    return _int64(raw)


def _nanos(raw: Any) -> int:
    if raw is None:
        return 0
    try:
        return _int64(raw)
    except (ValueError, OverflowError):
        raise SpanRejected(TIME_OUT_OF_RANGE) from None


def _events(raw: Any) -> list[SpanEvent]:
    if not raw:
        return []
    if type(raw) is not list:
        raise ValueError("events must be an array")
    return [
        SpanEvent(
            _nanos(_get(ev, "timeUnixNano", "time_unix_nano")),
            ev.get("name") or "",
            attributes(ev.get("attributes")),
        )
        for ev in raw
    ]


def _links(raw: Any) -> list[SpanLink]:
    if not raw:
        return []
    if type(raw) is not list:
        raise ValueError("links must be an array")
    return [
        SpanLink(
            _link_id(_get(link, "traceId", "trace_id"), TRACE_ID_BYTES),
            _link_id(_get(link, "spanId", "span_id"), SPAN_ID_BYTES),
            str(_get(link, "traceState", "trace_state") or ""),
            attributes(link.get("attributes")),
        )
        for link in raw
    ]


def _link_id(raw: Any, size: int) -> str:
    """Hex like the span's own ids; a malformed link id is kept as sent (no reason to lose
    the span over a link)."""
    try:
        return id_from_text(raw, size, "")
    except SpanRejected:
        return str(raw or "")


def _span(raw: dict[str, Any]) -> RawSpan:
    trace_id = id_from_text(_get(raw, "traceId", "trace_id"), TRACE_ID_BYTES, INVALID_TRACE_ID)
    span_id = id_from_text(_get(raw, "spanId", "span_id"), SPAN_ID_BYTES, INVALID_SPAN_ID)
    parent = parent_from_text(_get(raw, "parentSpanId", "parent_span_id"))
    start_ns, end_ns = span_times(
        _nanos(_get(raw, "startTimeUnixNano", "start_time_unix_nano")),
        _nanos(_get(raw, "endTimeUnixNano", "end_time_unix_nano")),
    )
    name = raw.get("name") or ""
    if not isinstance(name, str):
        raise ValueError("span name must be a string")
    status = raw.get("status") or {}
    message = status.get("message") or ""
    if not isinstance(message, str):
        raise ValueError("status message must be a string")
    return RawSpan(
        trace_id,
        span_id,
        parent,
        name,
        _enum(raw.get("kind"), _SPAN_KINDS),
        start_ns,
        end_ns,
        attributes(raw.get("attributes")),
        _events(raw.get("events")),
        _links(raw.get("links")),
        _enum(status.get("code"), _STATUS_CODES),
        message,
    )


def json_list(obj: dict[str, Any], camel: str, snake: str, where: str) -> list[Any]:
    """An OTLP/JSON array field (camelCase or snake_case); absent is empty."""
    value = _get(obj, camel, snake)
    if value is None:
        return []
    if type(value) is not list:
        raise OtlpDecodeError(f"OTLP/JSON: {where} must be an array")
    return value


def json_object(value: Any, where: str) -> dict[str, Any]:
    """An OTLP/JSON object field; absent is empty."""
    if value is None:
        return {}
    if type(value) is not dict:
        raise OtlpDecodeError(f"OTLP/JSON: {where} must be an object")
    return value


def _text_id(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _walk(doc: Any) -> DecodedExport:
    document = json_object(doc, "the body")
    groups: list[SpanGroup] = []
    rejections = Rejections()
    for resource_spans in json_list(document, "resourceSpans", "resource_spans", "resourceSpans"):
        resource_spans = json_object(resource_spans, "resourceSpans[]")
        resource = json_object(resource_spans.get("resource"), "resource")
        try:
            resource_attributes = attributes(resource.get("attributes"))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise OtlpDecodeError(f"OTLP/JSON: resource attributes: {exc}") from None
        scope_list = json_list(resource_spans, "scopeSpans", "scope_spans", "scopeSpans")
        # Exporters older than OTLP 1.0 said "instrumentationLibrarySpans".
        scope_list = scope_list or json_list(
            resource_spans, "instrumentationLibrarySpans", "instrumentation_library_spans", "scopeSpans"
        )
        for scope_spans in scope_list:
            scope_spans = json_object(scope_spans, "scopeSpans[]")
            scope = json_object(
                scope_spans.get("scope") or _get(scope_spans, "instrumentationLibrary", "instrumentation_library"),
                "scope",
            )
            try:
                scope_attributes = attributes(scope.get("attributes"))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise OtlpDecodeError(f"OTLP/JSON: scope attributes: {exc}") from None
            out: list[RawSpan] = []
            for raw in json_list(scope_spans, "spans", "spans", "spans"):
                try:
                    out.append(_span(raw))
                except SpanRejected as rejected:
                    rejections.add(rejected.reason, *_ids_for_message(raw))
                except Exception:  # any other shape problem confines itself to this span
                    rejections.add(MALFORMED_SPAN, *_ids_for_message(raw))
            if out:
                groups.append(
                    SpanGroup(
                        resource_attributes,
                        str(scope.get("name") or ""),
                        str(scope.get("version") or ""),
                        scope_attributes,
                        out,
                    )
                )
    return DecodedExport(groups, rejections)


def _ids_for_message(raw: Any) -> tuple[str | None, str | None]:
    if type(raw) is not dict:
        return None, None
    return _text_id(_get(raw, "traceId", "trace_id")), _text_id(_get(raw, "spanId", "span_id"))


def read_json_document(body: bytes) -> Any:
    """An OTLP/JSON body of any signal, parsed; too deep or not JSON raises OtlpDecodeError."""
    try:
        check_depth(body)
        return _decode(body)
    except JsonTooDeep as exc:
        raise OtlpDecodeError(str(exc)) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise OtlpDecodeError(f"malformed OTLP/JSON body: {exc}") from None


def decode_json_export(body: bytes) -> DecodedExport:
    """Decode an OTLP/JSON trace export; a malformed body raises OtlpDecodeError."""
    document = read_json_document(body)
    try:
        return _walk(document)
    except OtlpDecodeError:
        raise
    except Exception as exc:  # the contract: nothing but OtlpDecodeError leaves the decoder
        raise OtlpDecodeError(f"malformed OTLP/JSON export: {exc}") from None
