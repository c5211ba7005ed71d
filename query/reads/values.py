"""Column values → API values: times, JSON text, metadata maps.

Reads select times as `toUnixTimestamp64Micro(col)` (integers, no time-zone parsing) and render
them here. Input/output and metadata values are stored as text (see
`spyglass.collector.events.columns`): JSON text decodes to its value, anything else stays a string.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_decode = msgspec.json.decode
_encode = msgspec.json.encode


def time_select(column: str, alias: str | None = None) -> str:
    return f"toUnixTimestamp64Micro({column}) AS {alias or column}"


def iso(micros: int | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and a `Z`, as Langfuse renders dates."""
    if micros is None:
        return None
    moment = _EPOCH + timedelta(microseconds=int(micros))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_micro(micros: int) -> str:
    """Full-precision ISO form, for cursors that must resume exactly."""
    moment = _EPOCH + timedelta(microseconds=int(micros))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
