"""Serialized KeyValues split by hand decode as upb decodes them, in the order they were sent."""

from __future__ import annotations

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from spyglass.collector.otel import decode_protobuf_export
from spyglass.collector.otel.protobuf_values import message_attributes, wire_attributes
from tests.otel.otlp_builders import make_request, make_span


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (lengths below 128 only: enough for these cases)."""
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


_VALUE = AnyValue(string_value="v").SerializeToString()
_LONG = KeyValue(key="long", value=AnyValue(string_value="é" * 300)).SerializeToString()

_ENTRIES = {
    "canonical": _field(1, b"k") + _field(2, _VALUE),
    "value first": _field(2, _VALUE) + _field(1, b"k"),
    "key twice": _field(1, b"a") + _field(1, b"k") + _field(2, _VALUE),
    "no value": _field(1, b"k"),
    "empty value": _field(1, b"k") + _field(2, b""),
    "no key": _field(2, _VALUE),
    "unknown field": _field(1, b"k") + _field(2, _VALUE) + _field(3, b"x"),
    "int": KeyValue(key="n", value=AnyValue(int_value=-5)).SerializeToString(),
    "empty string": _field(1, b"k") + _field(2, _field(1, b"")),
    "long string": _LONG,
    "empty entry": b"",
}


@pytest.mark.parametrize("name", list(_ENTRIES))
def test_entry_decodes_as_upb_does(name: str) -> None:
    raw = _ENTRIES[name]
    expected = message_attributes([KeyValue.FromString(raw)])
    # Twice: the second time a short entry comes from the cache.
    assert wire_attributes([raw]) == expected
    assert wire_attributes([raw]) == expected


def test_attributes_keep_the_order_they_were_sent_in() -> None:
    keys = [f"key.{n}" for n in (5, 1, 9, 3, 7, 2)]
    body = make_request([make_span(attrs={key: n for n, key in enumerate(keys)})]).SerializeToString()
    (span,) = decode_protobuf_export(body).groups[0].spans
    assert list(span.attributes) == keys
