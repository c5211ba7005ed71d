"""Metrics API: GET /api/public/metrics (v1), /api/public/v2/metrics and /api/public/metrics/daily."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from spyglass.collector.http import STORES, ApiError, json_response
from spyglass.query.config import ApiConfig
from spyglass.query.metrics import (
    DailyFilter,
    DayCache,
    QueryError,
    Version,
    compile_query,
    daily_metrics,
    format_rows,
    page_of,
    parse_query,
    parse_timestamp,
    run_by_day,
)
from spyglass.query.reads import scope
from spyglass.store.postgres.notify import ROWS_DELETED, ROWS_WRITTEN, follow

METRICS_CACHE: web.AppKey[DayCache] = web.AppKey("metrics_cache", DayCache)

DAILY_DEFAULT_LIMIT = 50
DAILY_MAX_LIMIT = 1000


async def _run(request: web.Request, version: Version) -> web.Response:
    project_id = await scope.project_id(request)
    try:
        query = parse_query(request.query.get("query"))
        compiled = compile_query(query, project_id, version)
    except QueryError as exc:
        raise ApiError(400, str(exc)) from None
    ch = request.app[STORES].ch
    cache = request.app.get(METRICS_CACHE)
    if compiled.day_local and cache is not None and cache.enabled:
        rows = await run_by_day(ch, cache, query, compiled, project_id, version)
    else:
        rows = await ch.rows(compiled.sql, compiled.params)
    return json_response({"data": format_rows(rows, compiled.columns)})


async def metrics_v1(request: web.Request) -> web.Response:
    return await _run(request, "v1")


async def metrics_v2(request: web.Request) -> web.Response:
    return await _run(request, "v2")


def _positive_int(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid query parameter '{name}': {raw!r} is not an integer") from None
    if not 1 <= value <= maximum:
        raise ApiError(400, f"Invalid query parameter '{name}': must be between 1 and {maximum}")
    return value


async def metrics_daily(request: web.Request) -> web.Response:
    project_id = await scope.project_id(request)
    query = request.query
    page = _positive_int(request, "page", 1, 1_000_000)
    limit = _positive_int(request, "limit", DAILY_DEFAULT_LIMIT, DAILY_MAX_LIMIT)
    try:
        start = parse_timestamp(query["fromTimestamp"], "fromTimestamp") if query.get("fromTimestamp") else None
        end = parse_timestamp(query["toTimestamp"], "toTimestamp") if query.get("toTimestamp") else None
    except QueryError as exc:
        raise ApiError(400, str(exc)) from None
    tags = tuple(t for t in query.getall("tags", []) if t)
    daily_filter = DailyFilter(
        trace_name=query.get("traceName") or None,
        user_id=query.get("userId") or None,
        tags=tags,
        from_timestamp=start,
        to_timestamp=end,
    )
    days = await daily_metrics(request.app[STORES].ch, project_id, daily_filter)
    return json_response(page_of(days, page, limit))


def metrics_cache_ctx(api: ApiConfig) -> Callable[[web.Application], AsyncIterator[None]]:
    """Cleanup context: the metrics day cache, fed by the write and delete announcements."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        cache = DayCache(api.metrics_cache_rows)
        app[METRICS_CACHE] = cache
        if cache.max_rows <= 0:
            yield
            return
        handlers: dict[str, Callable[[str], object]] = {
            ROWS_DELETED: cache.on_project_changed,
            ROWS_WRITTEN: cache.on_written,
        }
        task = asyncio.create_task(follow(app[STORES].pg, handlers, cache.listening), name="metrics-cache")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return ctx


def rows_deleted(app: web.Application, project_id: str) -> None:
    """Forget this process's cached metrics of the project now (other processes hear of it
    through ROWS_DELETED a moment later): a delete answered is a delete every query sees."""
    cache = app.get(METRICS_CACHE)
    if cache is not None:
        cache.on_project_changed(project_id)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/public/metrics", metrics_v1)
    app.router.add_get("/api/public/metrics/daily", metrics_daily)
    app.router.add_get("/api/public/v2/metrics", metrics_v2)
