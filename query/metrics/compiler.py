"""Metrics query → one parameterised ClickHouse SELECT.

Shape of the generated SQL (two levels, as Langfuse's query builder):

    WITH base AS (<newest live rows of the view's table in the widened window>)
    SELECT <dimension aliases>, time_dimension, <agg>(m0) AS `<agg>_<measure>`, ...
    FROM (
        SELECT <table>.id AS entity_id, any(<dim>) AS d0, ..., any(<bucket>) AS time_dimension,
               <per-entity measure> AS m0, ...
        FROM base AS <table> <LEFT JOINs the query needs>
        WHERE <exact time range> AND <segment> AND <filters>
        GROUP BY entity_id [, fan-out dimensions]
    )
    GROUP BY <dimensions>, time_dimension
    ORDER BY ... [WITH FILL ...] [LIMIT n]

Result keys are the dimension names, `time_dimension`, and `<aggregation>_<measure>` (for
example `sum_totalCost`, `count_count`), which is what Langfuse returns and what its UI and
clients order by.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

import msgspec

from spyglass.query.metrics.catalog import VIEWS, Dimension, Measure, Version, View
from spyglass.query.metrics.errors import QueryError
from spyglass.query.metrics.filters import compile_filter
from spyglass.query.metrics.sources import T_FROM, T_TO, base_cte
from spyglass.query.metrics.spec import MetricsQuery, ch_datetime, parse_timestamp

AGGREGATIONS: dict[str, str] = {
    "sum": "sum",
    "avg": "avg",
    "count": "count",
    "max": "max",
    "min": "min",
    "p50": "quantile(0.5)",
    "p75": "quantile(0.75)",
    "p90": "quantile(0.9)",
    "p95": "quantile(0.95)",
    "p99": "quantile(0.99)",
    "histogram": "histogram",
}

GRANULARITIES = ("auto", "minute", "hour", "day", "week", "month")
_BUCKET = {
    "minute": "toStartOfMinute",
    "hour": "toStartOfHour",
    "day": "toDate",
    "week": "toMonday",
    "month": "toStartOfMonth",
}
_STEP = {
    "minute": "INTERVAL 1 MINUTE",
    "hour": "INTERVAL 1 HOUR",
    "day": "INTERVAL 1 DAY",
    "week": "INTERVAL 1 WEEK",
    "month": "INTERVAL 1 MONTH",
}

DEFAULT_BINS = 10
MAX_BINS = 100
MAX_ROW_LIMIT = 1000
V2_DEFAULT_ROW_LIMIT = 100
TIME_DIMENSION = "time_dimension"

OutputKind = Literal["dimension", "integer", "decimal", "float", "histogram"]


class OutputColumn(msgspec.Struct, frozen=True):
    name: str
    kind: OutputKind


class CompiledQuery(msgspec.Struct, frozen=True):
    sql: str
    params: dict[str, Any]
    columns: tuple[OutputColumn, ...]
    # Whether each UTC day's result rows depend only on that day's rows of `table`: daily buckets
    # in the default order (day by day, filled), and no other table joined. Such a query can be
    # answered day by day (query/metrics/by_day.py).
    day_local: bool = False
    table: str = ""
    row_limit: int | None = None


_ANY = re.compile(r"\bany\(")


def auto_granularity(start: datetime, end: datetime) -> str:
    """About 50 buckets over the range, as Langfuse picks them."""
    hours = (end - start).total_seconds() / 3600
    if hours < 2:
        return "minute"
    if hours < 72:
        return "hour"
    if hours < 1440:
        return "day"
    if hours < 8760:
        return "week"
    return "month"


def get_view(name: str, version: Version) -> View:
    views = VIEWS[version]
    view = views.get(name)
    if view is None:
        supported = ", ".join(views)
        if any(name in other for other in VIEWS.values()):
            raise QueryError(
                f"View '{name}' is not supported in version '{version}'. Supported views for {version}: {supported}"
            )
        raise QueryError(f"Invalid view '{name}'. Must be one of: {supported}")
    return view


def _dimensions(query: MetricsQuery, view: View, version: Version) -> list[tuple[str, Dimension]]:
    chosen: list[tuple[str, Dimension]] = []
    for spec in query.dimensions or ():
        if any(name == spec.field for name, _ in chosen):
            continue
        dim = view.dimensions.get(spec.field)
        if dim is None:
            raise QueryError(
                f"Invalid dimension '{spec.field}' for view '{view.name}'. Must be one of: {', '.join(view.dimensions)}"
            )
        if spec.field in view.high_cardinality:
            raise QueryError(
                f"Dimension '{spec.field}' has too many distinct values to group by in metrics {version}; "
                f"use it as a filter instead. High-cardinality dimensions of '{view.name}': "
                f"{', '.join(sorted(view.high_cardinality))}"
            )
        chosen.append((spec.field, dim))
    return chosen


def _metrics(query: MetricsQuery, view: View) -> list[tuple[str, str, Measure]]:
    chosen: list[tuple[str, str, Measure]] = []
    for spec in query.metrics:
        measure = view.measures.get(spec.measure)
        if measure is None:
            raise QueryError(
                f"Invalid metric '{spec.measure}' for view '{view.name}'. Must be one of: {', '.join(view.measures)}"
            )
        if spec.aggregation not in AGGREGATIONS:
            raise QueryError(
                f"Invalid aggregation '{spec.aggregation}' for metric '{spec.measure}'. "
                f"Must be one of: {', '.join(AGGREGATIONS)}"
            )
        if not any(m == spec.measure and a == spec.aggregation for m, a, _ in chosen):
            chosen.append((spec.measure, spec.aggregation, measure))
    return chosen


def _output_kind(aggregation: str, measure: Measure) -> OutputKind:
    if aggregation == "count":
        return "integer"
    if aggregation == "histogram":
        return "histogram"
    if aggregation in ("sum", "max", "min"):
        return measure.kind
    return "float"


def _order_by(
    query: MetricsQuery, dim_names: list[str], metric_names: list[str], has_time: bool
) -> tuple[list[str], bool]:
    """ORDER BY items, and whether they are the default (the only case that gets WITH FILL)."""
    group_keys = [*([TIME_DIMENSION] if has_time else []), *dim_names]
    items: list[str] = []
    used: set[str] = set()
    if query.order_by:
        for spec in query.order_by:
            direction = spec.direction.lower()
            if direction not in ("asc", "desc"):
                raise QueryError(
                    f"Invalid orderBy direction '{spec.direction}' for '{spec.field}'. Must be asc or desc"
                )
            if spec.field not in group_keys and spec.field not in metric_names:
                raise QueryError(
                    f"Invalid orderBy field '{spec.field}'. Must be one of the query's dimensions or metrics: "
                    f"{', '.join([*group_keys, *metric_names])}"
                )
            if spec.field not in used:
                used.add(spec.field)
                items.append(f"`{spec.field}` {direction.upper()}")
        is_default = False
    else:
        if has_time:
            items.append(f"{TIME_DIMENSION} ASC")
            used.add(TIME_DIMENSION)
        elif metric_names:
            items.append(f"`{metric_names[0]}` DESC")
            used.add(metric_names[0])
        is_default = True
    # Remaining group keys break ties, so equal queries return rows in the same order.
    items.extend(f"`{key}` ASC" for key in group_keys if key not in used)
    return items, is_default


def _limits(query: MetricsQuery, version: Version) -> tuple[int, int | None]:
    config = query.config
    bins = config.bins if config and config.bins is not None else DEFAULT_BINS
    if not 1 <= bins <= MAX_BINS:
        raise QueryError(f"Invalid query: config.bins must be between 1 and {MAX_BINS}, got {bins}")
    row_limit = config.row_limit if config else None
    if row_limit is None and version == "v2":
        row_limit = V2_DEFAULT_ROW_LIMIT
    if row_limit is not None and not 1 <= row_limit <= MAX_ROW_LIMIT:
        raise QueryError(f"Invalid query: config.row_limit must be between 1 and {MAX_ROW_LIMIT}, got {row_limit}")
    return bins, row_limit


def query_range(query: MetricsQuery) -> tuple[datetime, datetime]:
    start = parse_timestamp(query.from_timestamp, "fromTimestamp")
    end = parse_timestamp(query.to_timestamp, "toTimestamp")
    if start >= end:
        raise QueryError("Invalid query: fromTimestamp must be before toTimestamp")
    return start, end


def compile_query(
    query: MetricsQuery,
    project_id: str,
    version: Version,
    *,
    window: tuple[datetime, datetime] | None = None,
    unlimited: bool = False,
) -> CompiledQuery:
    """The query's SQL. `window` replaces the time range given by the query (whose granularity
    is still chosen from the query's own range) and `unlimited` leaves out the row limit: how a
    part of the range is computed on its own."""
    view = get_view(query.view, version)
    start, end = query_range(query)

    dims = _dimensions(query, view, version)
    metrics = _metrics(query, view)
    granularity: str | None = None
    if query.time_dimension is not None:
        granularity = query.time_dimension.granularity
        if granularity not in GRANULARITIES:
            raise QueryError(f"Invalid time granularity '{granularity}'. Must be one of: {', '.join(GRANULARITIES)}")
        if granularity == "auto":
            granularity = auto_granularity(start, end)
    bins, row_limit = _limits(query, version)
    if unlimited:
        row_limit = None
    if window is not None:
        start, end = window

    params: dict[str, Any] = {"project": project_id, "t_from": ch_datetime(start), "t_to": ch_datetime(end)}
    table = view.table
    where = [f"{table}.{view.time_column} >= {T_FROM}", f"{table}.{view.time_column} <= {T_TO}"]
    if view.segment:
        where.append(view.segment)
    relations: list[str] = []

    def need(relation: str | None) -> None:
        if relation is not None and relation not in relations:
            relations.append(relation)

    for index, spec in enumerate(query.filters or ()):
        compiled = compile_filter(spec, view, index, params)
        where.append(f"({compiled.sql})")
        need(compiled.relation)

    inner = [f"{table}.id AS entity_id"]
    inner_group = ["entity_id"]
    outer: list[str] = []
    outer_group: list[str] = []
    columns: list[OutputColumn] = []
    for i, (name, dim) in enumerate(dims):
        need(dim.relation)
        if dim.fanout or dim.explode:
            inner.append(f"{dim.sql} AS d{i}")
            inner_group.append(f"d{i}")
        else:
            inner.append(f"any({dim.sql}) AS d{i}")
        outer.append(f"d{i} AS `{name}`")
        outer_group.append(f"d{i}")
        columns.append(OutputColumn(name, "dimension"))
    if granularity is not None:
        inner.append(f"any({_BUCKET[granularity]}({table}.{view.time_column})) AS {TIME_DIMENSION}")
        outer.append(TIME_DIMENSION)
        outer_group.append(TIME_DIMENSION)
        columns.append(OutputColumn(TIME_DIMENSION, "dimension"))

    measure_slots: dict[str, str] = {}
    metric_names: list[str] = []
    for measure_name, aggregation, measure in metrics:
        need(measure.relation)
        slot = measure_slots.get(measure_name)
        if slot is None:
            slot = f"m{len(measure_slots)}"
            measure_slots[measure_name] = slot
            inner.append(f"{measure.sql} AS {slot}")
        alias = f"{aggregation}_{measure_name}"
        if aggregation == "histogram":
            expr = f"histogram({bins})(toFloat64({slot}))"
        else:
            expr = f"{AGGREGATIONS[aggregation]}({slot})"
        outer.append(f"{expr} AS `{alias}`")
        metric_names.append(alias)
        columns.append(OutputColumn(alias, _output_kind(aggregation, measure)))

    order, is_default_order = _order_by(query, [n for n, _ in dims], metric_names, granularity is not None)
    if granularity is not None and is_default_order:
        # Continuous series over the whole requested range: empty buckets become rows too.
        bucket, step = _BUCKET[granularity], _STEP[granularity]
        order[0] += f" WITH FILL FROM {bucket}({T_FROM}) TO {bucket}({T_TO}) + {step} STEP {step}"

    joins = " ".join(view.relations[r] for r in relations)
    fanout = {d.relation for d in view.dimensions.values() if d.fanout}
    if fanout.intersection(relations):
        entity_level = f"WHERE {' AND '.join(where)} GROUP BY {', '.join(inner_group)}"
    else:
        # When no one-to-many relation is joined (by a dimension or a filter), every entity is
        # one row, so grouping by entity is a no-op that costs a hash table of every id (10M
        # observations: >2 GB, a minute). Read each row once instead; `any(x)` of a one-row
        # group is just `x`.
        inner = [_ANY.sub("(", column) for column in inner]
        entity_level = f"WHERE {' AND '.join(where)}"
    sql = (
        f"WITH {base_cte(table, view.time_column)} "
        f"SELECT {', '.join(outer)} FROM ("
        f"SELECT {', '.join(inner)} FROM base AS {table} {joins} "
        f"{entity_level}"
        ")"
        + (f" GROUP BY {', '.join(outer_group)}" if outer_group else "")
        + (f" ORDER BY {', '.join(order)}" if order else "")
        + (f" LIMIT {int(row_limit)}" if row_limit is not None else "")
        + " SETTINGS join_use_nulls = 1"
    )
    day_local = granularity == "day" and is_default_order and not relations
    return CompiledQuery(
        sql=sql, params=params, columns=tuple(columns), day_local=day_local, table=table, row_limit=row_limit
    )


def format_rows(rows: list[dict[str, Any]], columns: tuple[OutputColumn, ...]) -> list[dict[str, Any]]:
    """Rows in Langfuse's shape: 64-bit integer results as strings (ClickHouse's JSON default,
    which Langfuse passes through), other numbers as numbers, NaN as null."""
    out: list[dict[str, Any]] = []
    for row in rows:
        item: dict[str, Any] = {}
        for column in columns:
            value = row.get(column.name)
            if value is not None:
                if column.kind == "integer":
                    value = str(int(value))
                elif column.kind in ("decimal", "float") and isinstance(value, int | float):
                    value = float(value)
            item[column.name] = value
        out.append(item)
    return out
