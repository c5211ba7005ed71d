"""Rows → JSONEachRow bytes for ClickHouse inserts."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

_encoder = msgspec.json.Encoder()


def json_each_row(rows: Iterable[msgspec.Struct]) -> bytes:
    buf = bytearray()
    encode_into = _encoder.encode_into
    for row in rows:
        encode_into(row, buf, -1)
        buf += b"\n"
    return bytes(buf)
