"""Answer a day-local metrics query (see `CompiledQuery.day_local`) a day at a time.

Such a query's result, in its default order, is its days' rows one day after the other, each
day's rows depending only on that day's table rows. So the result is assembled from cached
days (day_cache.py) and from queries over the runs of days not cached: the partial first and
last day, today, and days a write changed. A 30-day dashboard query then reads about two days
of rows instead of thirty.

Each run is compiled from the same query with a narrower time window and no row limit, so it
fills its own empty days (WITH FILL over the window) and orders its rows as the whole query
would; the row limit is applied to the assembled rows.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import msgspec

from spyglass.query.metrics.catalog import Version
from spyglass.query.metrics.compiler import TIME_DIMENSION, CompiledQuery, compile_query, query_range
from spyglass.query.metrics.day_cache import DayCache, Rows
from spyglass.query.metrics.spec import MetricsQuery, QueryConfig, TimeDimensionSpec
from spyglass.store.clickhouse.client import ClickHouse

_EPOCH = date(1970, 1, 1).toordinal()
_TICK = timedelta(microseconds=1)  # the stored times' resolution
# More runs than this are read as one (cached days in between are read again, and refreshed).
_MAX_RUNS = 3


def _day(moment: datetime) -> int:
    return moment.date().toordinal() - _EPOCH


def _midnight(day: int) -> datetime:
    return datetime.combine(date.fromordinal(day + _EPOCH), datetime.min.time(), UTC)


def _shape(query: MetricsQuery, version: Version) -> str:
    """What the rows of a day depend on besides the day: the query without its range and row
    limit (the granularity is day, whether asked as "day" or as "auto")."""
    config = query.config
    bins = config.bins if config is not None else None
    stripped = msgspec.structs.replace(
        query,
        from_timestamp="",
        to_timestamp="",
        time_dimension=TimeDimensionSpec("day"),
        config=QueryConfig(bins=bins),
    )
    return f"{version}:{msgspec.json.encode(stripped).decode()}"


def _runs(days: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for day in days:
        if runs and runs[-1][1] == day - 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    if len(runs) > _MAX_RUNS:
        return [(runs[0][0], runs[-1][1])]
    return runs


async def run_by_day(
    ch: ClickHouse,
    cache: DayCache,
    query: MetricsQuery,
    whole: CompiledQuery,
    project_id: str,
    version: Version,
    now: datetime | None = None,
) -> Rows:
    """The rows `whole` (the compiled `query`, day_local) would return."""
    start, end = query_range(query)
    today = _day(now or datetime.now(UTC))
    shape = _shape(query, version)
    token = cache.begin()

    def cacheable(day: int) -> bool:
        # Whole days before today: today's rows keep changing.
        return day < today and start <= _midnight(day) and end >= _midnight(day + 1) - _TICK

    per_day: dict[int, Rows] = {}
    missing: list[int] = []
    for day in range(_day(start), _day(end) + 1):
        rows = cache.get(shape, project_id, day) if cacheable(day) else None
        if rows is None:
            missing.append(day)
        else:
            per_day[day] = rows

    async def read(first: int, last: int) -> None:
        window = (max(start, _midnight(first)), min(end, _midnight(last + 1) - _TICK))
        part = compile_query(query, project_id, version, window=window, unlimited=True)
        fresh: dict[int, Rows] = {day: [] for day in range(first, last + 1)}
        for row in await ch.rows(part.sql, part.params):
            day = date.fromisoformat(row[TIME_DIMENSION]).toordinal() - _EPOCH
            fresh.setdefault(day, []).append(row)
        for day, rows in fresh.items():
            per_day[day] = rows
            if first <= day <= last and cacheable(day):
                cache.put(whole.table, shape, project_id, day, rows, token)

    await asyncio.gather(*(read(first, last) for first, last in _runs(missing)))
    assembled = [row for day in sorted(per_day) for row in per_day[day]]
    if whole.row_limit is not None:
        del assembled[whole.row_limit :]
    return assembled
