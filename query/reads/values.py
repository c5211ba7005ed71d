"""Column values → API values: times, JSON text, metadata maps.

Reads select times as `toUnixTimestamp64Micro(col)` (integers, no time-zone parsing) and render
them here. Input/output and metadata values are stored as text (see
`spyglass.collector.events.columns`): JSON text decodes to its value, anything else stays a string.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from spyglass.collector.json_depth import MAX_JSON_DEPTH, too_deep

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Shorter text holds too few brackets to nest deeper than the limit.
_SHALLOW_ENOUGH = 2 * MAX_JSON_DEPTH
_decode = msgspec.json.decode
_encode = msgspec.json.encode


def time_select(column: str, alias: str | None = None) -> str:
    return f"toUnixTimestamp64Micro({column}) AS {alias or column}"


def _moment(micros: int) -> datetime:
    try:
        return _EPOCH + timedelta(microseconds=int(micros))
    except OverflowError:
        # Only rows stored before intake checked the time range (`collector.time_range`) lie
        # beyond Python's years 1-9999: render the nearest end rather than fail the whole read.
        return datetime.max.replace(tzinfo=UTC) if micros > 0 else datetime.min.replace(tzinfo=UTC)


def iso(micros: int | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and a `Z`, as Langfuse renders dates; always a
    four-digit year (strftime writes year 1 as "1")."""
    if micros is None:
        return None
    t = _moment(micros)
    millis = t.microsecond // 1000
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{millis:03d}Z"


def iso_micro(micros: int) -> str:
    """Full-precision ISO form, for cursors that must resume exactly."""
    t = _moment(micros)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{t.microsecond:06d}Z"


def micros_of(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def seconds_between(start: int | None, end: int | None) -> float | None:
    if start is None or end is None:
        return None
    return (int(end) - int(start)) / 1e6


def json_value(text: str | None) -> Any:
    """Decoded JSON, or the text itself when it is not JSON (a plain string input)."""
    if text is None:
        return None
    # Text nested deeper than any JSON Spyglass accepts (it can arrive inside a string, e.g. an
    # OTel attribute) stays a string: decoded, it could not be encoded into the answer again.
    if len(text) > _SHALLOW_ENOUGH and too_deep(text):
        return text
    try:
        return _decode(text)
    except msgspec.DecodeError:
        return text


def metadata(mapping: dict[str, str] | None) -> dict[str, Any]:
    return {key: json_value(value) for key, value in (mapping or {}).items()}


def iso_dt(moment: datetime | None) -> str | None:
    """A Postgres timestamptz as Langfuse renders dates."""
    if moment is None:
        return None
    return iso(micros_of(moment))
