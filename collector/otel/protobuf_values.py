"""AnyValue → Python value, from either protobuf representation.

- `message_attributes`: repeated KeyValue messages (opentelemetry-proto classes).
- `wire_attributes`: the `wire_schema` view, where each attribute is its serialized
  KeyValue. Key and value are split off by hand; the common value kinds (string, int, bool,
  double, arrays of those) are read straight from the bytes; kvlists, bytes and unusual
  encodings go through upb's own parser, so the two representations always decode alike
  (a property test checks it).
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterable
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from spyglass.collector.otel.spans import Attributes
from spyglass.collector.otel.wire_schema import WireKeyValue

_parse_anyvalue = AnyValue.FromString
_parse_key_value = WireKeyValue.FromString
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


# An AnyValue message (log bodies use it too).
message_value = _message_value_any


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


# Serialized KeyValue → (key, decoded value), for short ones holding a scalar. The same
# attributes recur byte for byte on span after span (environment, release, user and session
# ids, model names, flags), and one dict lookup replaces splitting and decoding them; the key
# strings are shared too, so their hashes are computed once. Only immutable values are kept,
# so spans never share a list or dict, and long KeyValues (prompts) are looked up but never
# kept.
_CACHED_SIZE = 200
_CACHE_LIMIT = 8192
_CACHEABLE = frozenset({str, int, float, bool, type(None)})
# Short KeyValues holding an array of scalars (tags): each span gets a list of its own.
_arrays: dict[bytes, tuple[str, tuple[Any, ...]]] = {}
# KeyValue field tags: key = 1, value = 2 (both length-delimited).
_TAG_KEY, _TAG_VALUE = 0x0A, 0x12


class _Pairs(dict[bytes, tuple[str, Any]]):
    """Serialized KeyValue → (key, value); a miss decodes it (and remembers short ones)."""

    def __missing__(self, entry: bytes) -> tuple[str, Any]:
        # Misses are frequent too (a request id on every span, tags), so this stays flat.
        if len(entry) > _CACHED_SIZE:
            return split_key_value(entry)
        array = _arrays.get(entry)
        if array is not None:
            return array[0], list(array[1])
        pair = split_key_value(entry)
        kind = type(pair[1])
        if kind in _CACHEABLE:
            if len(self) >= _CACHE_LIMIT:
                self.clear()  # unique values (request ids) would fill it otherwise
            self[entry] = pair
        elif kind is list and all(type(item) in _CACHEABLE for item in pair[1]):
            if len(_arrays) >= _CACHE_LIMIT:
                _arrays.clear()
            _arrays[entry] = (pair[0], tuple(pair[1]))
        return pair


_pair = _Pairs().__getitem__


def wire_attributes(entries: Iterable[bytes]) -> Attributes:
    """Serialized KeyValues → attributes, in the order they were sent."""
    # dict() over the pairs runs the loop in C; only misses reach Python.
    return dict(map(_pair, entries))


def split_key_value(entry: bytes) -> tuple[str, Any]:
    """One serialized KeyValue → (key, decoded value).

    Every encoder writes the key, then the value, once each; anything else (fields
    repeated or reordered, unknown fields) goes through upb, which resolves it as the map
    entry it is on the wire (the last key and value win). A missing value reads as None,
    as an empty AnyValue does."""
    size = len(entry)
    if size > 1 and entry[0] == _TAG_KEY and entry[1] < 0x80:
        pos = 2 + entry[1]
        if pos + 3 < size and entry[pos] == _TAG_VALUE and entry[pos + 2] == _TAG_STRING:
            # Inlined commonest case: a string value shorter than 126 bytes (one-byte lengths).
            value_size, text_size = entry[pos + 1], entry[pos + 3]
            if value_size < 0x80 and text_size < 0x80 and value_size == size - pos - 2 == text_size + 2:
                return entry[2:pos].decode(), entry[pos + 4 :].decode()
        if pos == size:
            return entry[2:pos].decode(), None
        if pos < size and entry[pos] == _TAG_VALUE:
            length, start = _varint(entry, pos + 1)
            if start + length == size:
                return entry[2:pos].decode(), wire_value(entry[start:])
    message = _parse_key_value(entry)
    return message.key, wire_value(message.value)
