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


# Serialized value → decoded value, for short scalar values. The same values recur on span
# after span (environment, release, user and session ids, model names, flags), and one dict
# lookup costs a fraction of the decoding ladder below. Only immutable results are kept, so
# spans never share a list or dict; long values (prompts) are not even hashed.
_CACHED_SIZE = 200
_CACHE_LIMIT = 4096
_CACHEABLE = frozenset({str, int, float, bool, type(None)})
_values: dict[bytes, Any] = {}
_NOT_CACHED = object()


def wire_attributes(entries: Any) -> Attributes:
    out: Attributes = {}
    known = _values.get
    # Iterating the keys and indexing is native in upb; `.items()` is the Python mixin.
    for key in entries:
        raw = entries[key]
        size = len(raw)
        if size <= _CACHED_SIZE:
            value = known(raw, _NOT_CACHED)
            if value is _NOT_CACHED:
                value = wire_value(raw)
                if type(value) in _CACHEABLE:
                    if len(_values) >= _CACHE_LIMIT:
                        _values.clear()  # unique values (request ids) would fill it otherwise
                    _values[raw] = value
            out[key] = value
        # Inlined fast path for long strings: one shorter than 16 KiB has a two-byte length.
        elif raw[0] == _TAG_STRING and raw[1] & 0x80 and ((raw[1] & 0x7F) | (raw[2] << 7)) == size - 3:
            out[key] = raw[3:].decode()
        else:
            out[key] = wire_value(raw)
    return out
