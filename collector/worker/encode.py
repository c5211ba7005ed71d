"""Rows → JSONEachRow bytes for ClickHouse inserts (and back, for the rare row needed again)."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from spyglass.store.clickhouse.rows import ObservationRow

_encoder = msgspec.json.Encoder()
_observations_decoder = msgspec.json.Decoder(list[ObservationRow])


def json_each_row(rows: Iterable[msgspec.Struct]) -> bytes:
    buf = bytearray()
    encode_into = _encoder.encode_into
    for row in rows:
        encode_into(row, buf, -1)
        buf += b"\n"
    return bytes(buf)


def decode_rows(data: bytes) -> list[ObservationRow]:
    """Observation rows back from `json_each_row` output (one JSON object a line)."""
    body = data.rstrip(b"\n")
    if not body:
        return []
    return _observations_decoder.decode(b"[" + body.replace(b"\n", b",") + b"]")
