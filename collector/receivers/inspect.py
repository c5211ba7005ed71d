"""Accept-time check of an OTLP request: is it decodable, and which spans are invalid?

The answer feeds OTLP partial success; the worker applies the same decoder later, so what
the client was told was accepted is exactly what gets stored.
"""

from __future__ import annotations

import msgspec

from spyglass.collector.otel import decode_otlp

_CONTENT_TYPE = {"pb": "application/x-protobuf", "json": "application/json"}


class Inspection(msgspec.Struct, frozen=True):
    total_spans: int
    rejected_spans: int
    message: str


def inspect_request(body: bytes, fmt: str) -> Inspection:
    """Raise OtlpDecodeError for a malformed body; count individually invalid spans."""
    export = decode_otlp(body, _CONTENT_TYPE[fmt])
    return Inspection(export.span_count + export.rejected_count, export.rejected_count, export.error_message)
