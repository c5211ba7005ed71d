"""The one range of times Spyglass accepts, on every path: OTLP span times, /ingestion event and
body times, scores, query filters, metrics windows, model start dates.

It is the OTLP receiver's (`otel.checks`): from 2000-01-01 (anything earlier is almost always a
unit mistake, milliseconds sent as nanoseconds) to the end of int64 nanoseconds. That lies inside
ClickHouse's DateTime64 and Python's datetime with room to spare, so every stored time can be
compared, rounded and rendered as ISO 8601 with a four-digit year; a time outside it is a 400
naming the field, never a 500 later.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from spyglass.collector.otel.checks import MAX_TIME_NS, MIN_TIME_NS

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST = _EPOCH + timedelta(microseconds=MIN_TIME_NS // 1000)
LATEST = _EPOCH + timedelta(microseconds=MAX_TIME_NS // 1000)
RANGE_TEXT = f"between {EARLIEST:%Y-%m-%dT%H:%M:%S}Z and {LATEST:%Y-%m-%dT%H:%M:%S}Z"


def in_range(moment: datetime) -> bool:
    """A naive time counts as UTC. Comparing aware times never overflows, unlike converting
    them: `0001-01-01T00:00:00+01:00` has no UTC form."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return EARLIEST <= aware <= LATEST


def out_of_range(got: object) -> str:
    """The problem text for a time outside the range (the caller names the field)."""
    return f"must be {RANGE_TEXT}, got {got}"
