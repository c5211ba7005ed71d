"""The metrics query compiler: Langfuse metrics queries (views, dimensions, measures, filters,
time granularity) → parameterised ClickHouse SQL, plus the legacy daily metrics."""

from spyglass.query.metrics.by_day import run_by_day
from spyglass.query.metrics.catalog import VIEWS, Version
from spyglass.query.metrics.compiler import CompiledQuery, compile_query, format_rows
from spyglass.query.metrics.daily import DailyFilter, daily_metrics, page_of
from spyglass.query.metrics.day_cache import DayCache
from spyglass.query.metrics.errors import QueryError
from spyglass.query.metrics.spec import MetricsQuery, parse_query, parse_timestamp

__all__ = [
    "VIEWS",
    "CompiledQuery",
    "DailyFilter",
    "DayCache",
    "MetricsQuery",
    "QueryError",
    "Version",
    "compile_query",
    "daily_metrics",
    "format_rows",
    "page_of",
    "parse_query",
    "parse_timestamp",
    "run_by_day",
]
