"""AnyValue → Python value, from either protobuf representation.

- `message_attributes`: repeated KeyValue messages (opentelemetry-proto classes).
- `wire_attributes`: the `wire_schema` view, where each value is the raw serialized
  AnyValue. The common kinds (string, int, bool, double, arrays of those) are read straight
  from the bytes; kvlists, bytes and unusual encodings go through upb's own parser, so the
  two representations always decode alike (a property test checks it).
"""

from __future__ import annotations

import base64
import struct
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from spyglass.collector.otel.spans import Attributes

_parse_anyvalue = AnyValue.FromString
_unpack_double = struct.Struct("<d").unpack
# AnyValue field tags: (field number << 3) | wire type.
_TAG_STRING, _TAG_BOOL, _TAG_INT, _TAG_DOUBLE, _TAG_ARRAY = 0x0A, 0x10, 0x18, 0x21, 0x2A


def _message_value(value: Any) -> Any:
    """An AnyValue message whose string form was empty: find out what it really holds."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "string_value":
        return ""
    if which == "array_value":
        return [_message_value_any(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return message_attributes(value.kvlist_value.values)
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return getattr(value, which)


def _message_value_any(value: Any) -> Any:
    # Reading string_value is far cheaper than WhichOneof, and most values are strings.
    text = value.string_value
    return text if text else _message_value(value)


def message_attributes(key_values: Any) -> Attributes:
    out: Attributes = {}
    for kv in key_values:
        value = kv.value
        text = value.string_value
        out[kv.key] = text if text else _message_value(value)
    return out


def _varint(raw: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it); a truncated varint reads as past the end."""
    value = shift = 0
    size = len(raw)
    while pos < size:
        byte = raw[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    return value, size + 1


def _wire_array(raw: bytes, size: int) -> list[Any] | None:
    """ArrayValue {repeated AnyValue values = 1} nested in AnyValue field 5; None if odd."""
    length, pos = _varint(raw, 1)
    if pos + length != size:
        return None
    items = []
    while pos < size:
        if raw[pos] != _TAG_STRING:
            return None
        length = raw[pos + 1] if pos + 1 < size else 0x80
        if length < 0x80:
            pos += 2
        else:
            length, pos = _varint(raw, pos + 1)
        end = pos + length
        if end > size:
            return None
        items.append(wire_value(raw[pos:end]))
        pos = end
    return items


def wire_value(raw: bytes) -> Any:
    """Decode one serialized AnyValue."""
    size = len(raw)
    if not size:
        return None
    tag = raw[0]
    if tag == _TAG_STRING:
        if size > 1 and raw[1] == size - 2:
            return raw[2:].decode()
        length, pos = _varint(raw, 1)
        if pos + length == size:
            return raw[pos:].decode()
    elif tag == _TAG_INT:
        if size == 3 and raw[2] < 0x80:
            return (raw[1] & 0x7F) | (raw[2] << 7)
        number, pos = _varint(raw, 1)
        if pos == size:
            return number - (1 << 64) if number >= 1 << 63 else number
    elif tag == _TAG_BOOL:
        if size == 2 and raw[1] < 2:
            return raw[1] == 1
    elif tag == _TAG_DOUBLE:
        if size == 9:
            return _unpack_double(raw[1:])[0]
    elif tag == _TAG_ARRAY:
        items = _wire_array(raw, size)
        if items is not None:
            return items
    return _message_value(_parse_anyvalue(raw))


def wire_attributes(entries: Any) -> Attributes:
    out: Attributes = {}
    for key, raw in entries.items():
        # Inlined fast paths: a string shorter than 128 bytes is (tag, length, text), one
        # shorter than 16 KiB has a two-byte length; a small int is (tag, value).
        size = len(raw)
        if size > 1 and raw[0] == _TAG_STRING:
            if raw[1] == size - 2:
                out[key] = raw[2:].decode()
                continue
            if size > 130 and raw[1] & 0x80 and ((raw[1] & 0x7F) | (raw[2] << 7)) == size - 3:
                out[key] = raw[3:].decode()
                continue
        elif size == 2 and raw[0] == _TAG_INT and raw[1] < 0x80:
            out[key] = raw[1]
            continue
        out[key] = wire_value(raw)
    return out
