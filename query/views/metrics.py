"""Metrics API: GET /api/public/metrics (v1), /api/public/v2/metrics and /api/public/metrics/daily."""

from __future__ import annotations

from aiohttp import web

from spyglass.collector.http.errors import ApiError, json_response
from spyglass.collector.http.state import AUTH, STORES
from spyglass.query.metrics import (
    DailyFilter,
    QueryError,
    Version,
    compile_query,
    daily_metrics,
    format_rows,
    page_of,
    parse_query,
    parse_timestamp,
)

DAILY_DEFAULT_LIMIT = 50
DAILY_MAX_LIMIT = 1000


async def project_of(request: web.Request) -> str:
    scope = await request.app[AUTH].authenticate(request)
    if scope.project_id is None:
        raise ApiError(403, "Forbidden: an organization key cannot read project data; use a project key")
    return scope.project_id


async def _run(request: web.Request, version: Version) -> web.Response:
    project_id = await project_of(request)
    try:
        compiled = compile_query(parse_query(request.query.get("query")), project_id, version)
    except QueryError as exc:
        raise ApiError(400, str(exc)) from None
    rows = await request.app[STORES].ch.rows(compiled.sql, compiled.params)
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
    project_id = await project_of(request)
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


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/public/metrics", metrics_v1)
    app.router.add_get("/api/public/metrics/daily", metrics_daily)
    app.router.add_get("/api/public/v2/metrics", metrics_v2)
