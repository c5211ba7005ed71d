"""Per-span validity rules shared by both decoders (ids and timestamps).

A span that breaks one is rejected on its own (OTLP partial success); its siblings are kept.
"""

from __future__ import annotations

import base64
import binascii

TRACE_ID_BYTES = 16
SPAN_ID_BYTES = 8
ZERO_TRACE_ID = bytes(TRACE_ID_BYTES)
ZERO_SPAN_ID = bytes(SPAN_ID_BYTES)

# Before 2000 is almost always a unit mistake (ms or µs sent as ns) and would open a junk
# 1970 partition; int64 nanoseconds end in 2262, inside ClickHouse's DateTime64 range.
MIN_TIME_NS = 946_684_800 * 1_000_000_000
MAX_TIME_NS = 2**63 - 1

INVALID_TRACE_ID = "invalid trace id"
INVALID_SPAN_ID = "invalid span id"
INVALID_PARENT_ID = "invalid parent span id"
MISSING_TIMES = "missing start and end time"
TIME_OUT_OF_RANGE = "timestamp out of range"
END_BEFORE_START = "end time before start time"
MALFORMED_SPAN = "malformed span"


class SpanRejected(Exception):
    """Raised inside a decoder's per-span step; caught there and counted, never escapes."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def span_times(start_ns: int, end_ns: int) -> tuple[int, int]:
    """Fill a missing bound from the other one and refuse times that cannot be real."""
    if not start_ns:
        if not end_ns:
            raise SpanRejected(MISSING_TIMES)
        start_ns = end_ns
    elif not end_ns:
        end_ns = start_ns
    if start_ns < MIN_TIME_NS or end_ns > MAX_TIME_NS or start_ns > MAX_TIME_NS or end_ns < MIN_TIME_NS:
        raise SpanRejected(TIME_OUT_OF_RANGE)
    if end_ns < start_ns:
        raise SpanRejected(END_BEFORE_START)
    return start_ns, end_ns


def id_from_text(text: object, size: int, reason: str) -> str:
    """Lowercase hex of an OTLP/JSON id.

    The OTLP/JSON spec says hex; proto3's canonical JSON (some non-OTel tools) says base64.
    The two can't be confused: base64 of 16 bytes is 24 characters, hex is 32.
    """
    if not isinstance(text, str):
        raise SpanRejected(reason)
    if len(text) == 2 * size:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise SpanRejected(reason) from None
    else:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise SpanRejected(reason) from None
    if len(raw) != size or raw == bytes(size):
        raise SpanRejected(reason)
    return raw.hex()


def parent_from_text(text: object) -> str | None:
    """A parent id is optional; empty or all-zero means "no parent" (W3C invalid id)."""
    if text is None or text == "":
        return None
    if isinstance(text, str) and text.strip("0") == "":
        return None
    return id_from_text(text, SPAN_ID_BYTES, INVALID_PARENT_ID)
