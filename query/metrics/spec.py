"""The metrics query object clients send (`?query=<json>`), parsed and checked for shape only.

Whether a view, field or operator exists is the compiler's business (`compiler.py`); this module
turns the JSON into typed structs and the two timestamps into UTC datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from spyglass.collector.json_depth import JsonTooDeep, check_depth
from spyglass.collector.time_range import in_range, out_of_range
from spyglass.query.metrics.errors import QueryError


class DimensionSpec(msgspec.Struct, frozen=True):
    field: str


class MetricSpec(msgspec.Struct, frozen=True):
    measure: str
    aggregation: str


class FilterSpec(msgspec.Struct, frozen=True):
    column: str
    operator: str
    type: str
    value: Any = None
    key: str | None = None


class TimeDimensionSpec(msgspec.Struct, frozen=True):
    granularity: str


class OrderBySpec(msgspec.Struct, frozen=True):
    field: str
    direction: str = "asc"


class QueryConfig(msgspec.Struct, frozen=True):
    bins: int | None = None
    row_limit: int | None = None


class MetricsQuery(msgspec.Struct, frozen=True, rename="camel"):
    view: str
    metrics: list[MetricSpec]
    from_timestamp: str
    to_timestamp: str
    # null is accepted for the optional lists, as clients built for Langfuse send it.
    dimensions: list[DimensionSpec] | None = None
    filters: list[FilterSpec] | None = None
    time_dimension: TimeDimensionSpec | None = None
    order_by: list[OrderBySpec] | None = None
    config: QueryConfig | None = None


def parse_query(raw: str | None) -> MetricsQuery:
    """Decode the `query` parameter; QueryError (a 400) names what is wrong with it."""
    if raw is None or not raw.strip():
        raise QueryError("Missing required query parameter 'query' (a JSON-encoded metrics query object)")
    try:
        check_depth(raw)
        data = msgspec.json.decode(raw)
    except JsonTooDeep as exc:
        raise QueryError(f"Invalid query: 'query' is {exc}") from None
    except msgspec.DecodeError as exc:
        raise QueryError(f"Invalid query: 'query' is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise QueryError("Invalid query: 'query' must be a JSON object")
    try:
        query = msgspec.convert(data, MetricsQuery)
    except msgspec.ValidationError as exc:
        raise QueryError(f"Invalid query: {exc}") from None
    if not query.metrics:
        raise QueryError("Invalid query: 'metrics' must contain at least one metric")
    return query


def parse_timestamp(value: str, name: str) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime (naive input is taken as UTC), inside the
    range every stored time lies in (`collector.time_range`)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise QueryError(f"Invalid query: {name} {value!r} is not an ISO 8601 date-time") from None
    if not in_range(parsed):
        raise QueryError(f"Invalid query: {name} {out_of_range(repr(value))}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def ch_datetime(value: datetime) -> str:
    """The text form ClickHouse parses into DateTime64(6, 'UTC') parameters."""
    utc = value.astimezone(UTC)
    return f"{utc.year:04d}-{utc:%m-%d %H:%M:%S.%f}"  # strftime writes year 1 as "1"
