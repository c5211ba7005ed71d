"""A reading view of the OTLP trace wire format, tuned for walking from Python.

Every upb field access from Python builds a wrapper object, and a span has ~20 attribute
KeyValues, each with a nested AnyValue: that walk cost more than everything else. On the
wire a message-typed field shares wire type 2 with bytes, so the attribute fields are
declared `repeated bytes`: upb hands over each KeyValue serialized, in the order it was
sent, without building anything, and `protobuf_values.wire_attributes` splits it (most
KeyValues recur byte for byte from span to span, so most are one dict lookup). `KeyValue`
(key, raw AnyValue) is the parser for the KeyValues that splitting by hand does not cover.
Only the fields the mapper reads are declared; upb skips the rest.

The descriptors live in a private pool, so they never clash with opentelemetry-proto's.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
_OPTIONAL, _REPEATED = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
_PACKAGE = "spyglass.otlp_wire"

# (message, [(field, number, type, repeated, message type or None)])
_MESSAGES: list[tuple[str, list[tuple[str, int, int, bool, str | None]]]] = [
    ("Request", [("resource_spans", 1, _F.TYPE_MESSAGE, True, "ResourceSpans")]),
    (
        "ResourceSpans",
        [
            ("resource", 1, _F.TYPE_MESSAGE, False, "Resource"),
            ("scope_spans", 2, _F.TYPE_MESSAGE, True, "ScopeSpans"),
        ],
    ),
    ("Resource", [("attributes", 1, _F.TYPE_BYTES, True, None)]),
    (
        "ScopeSpans",
        [("scope", 1, _F.TYPE_MESSAGE, False, "Scope"), ("spans", 2, _F.TYPE_MESSAGE, True, "Span")],
    ),
    (
        "Scope",
        [
            ("name", 1, _F.TYPE_STRING, False, None),
            ("version", 2, _F.TYPE_STRING, False, None),
            ("attributes", 3, _F.TYPE_BYTES, True, None),
        ],
    ),
    (
        "Span",
        [
            ("trace_id", 1, _F.TYPE_BYTES, False, None),
            ("span_id", 2, _F.TYPE_BYTES, False, None),
            ("parent_span_id", 4, _F.TYPE_BYTES, False, None),
            ("name", 5, _F.TYPE_STRING, False, None),
            # An enum on the wire is a varint; int32 reads any value, known or not.
            ("kind", 6, _F.TYPE_INT32, False, None),
            ("start_time_unix_nano", 7, _F.TYPE_FIXED64, False, None),
            ("end_time_unix_nano", 8, _F.TYPE_FIXED64, False, None),
            ("attributes", 9, _F.TYPE_BYTES, True, None),
            ("events", 11, _F.TYPE_MESSAGE, True, "Event"),
            ("links", 13, _F.TYPE_MESSAGE, True, "Link"),
            ("status", 15, _F.TYPE_MESSAGE, False, "Status"),
        ],
    ),
    (
        "Event",
        [
            ("time_unix_nano", 1, _F.TYPE_FIXED64, False, None),
            ("name", 2, _F.TYPE_STRING, False, None),
            ("attributes", 3, _F.TYPE_BYTES, True, None),
        ],
    ),
    (
        "Link",
        [
            ("trace_id", 1, _F.TYPE_BYTES, False, None),
            ("span_id", 2, _F.TYPE_BYTES, False, None),
            ("trace_state", 3, _F.TYPE_STRING, False, None),
            ("attributes", 4, _F.TYPE_BYTES, True, None),
        ],
    ),
    ("Status", [("message", 2, _F.TYPE_STRING, False, None), ("code", 3, _F.TYPE_INT32, False, None)]),
    ("KeyValue", [("key", 1, _F.TYPE_STRING, False, None), ("value", 2, _F.TYPE_BYTES, False, None)]),
]


def _build() -> tuple[Any, Any]:
    file = descriptor_pb2.FileDescriptorProto(name="spyglass/otlp_wire.proto", package=_PACKAGE, syntax="proto3")
    for name, fields in _MESSAGES:
        message = file.message_type.add(name=name)
        for field_name, number, field_type, repeated, type_name in fields:
            field = message.field.add(
                name=field_name, number=number, type=field_type, label=_REPEATED if repeated else _OPTIONAL
            )
            if type_name is not None:
                field.type_name = f".{_PACKAGE}.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    request, key_value = (pool.FindMessageTypeByName(f"{_PACKAGE}.{name}") for name in ("Request", "KeyValue"))
    return message_factory.GetMessageClass(request), message_factory.GetMessageClass(key_value)


WireRequest, WireKeyValue = _build()
