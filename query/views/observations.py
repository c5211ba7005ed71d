"""/api/public/observations (v1, page-based) and /api/public/v2/observations (cursor, field groups)."""

from __future__ import annotations

from aiohttp import web

from spyglass.collector.http import STORES, json_response, not_found
from spyglass.query.reads import cursor as cursors
from spyglass.query.reads import observations as obs
from spyglass.query.reads import traces
from spyglass.query.reads.params import Query, field_groups, invalid, parse_datetime
from spyglass.query.reads.prices import for_model, unit_prices
from spyglass.query.reads.scope import project_id
from spyglass.query.reads.values import iso_micro, micros_of

V2_MAX_LIMIT = 1000


def _selection(pid: str, q: Query, *, v2: bool) -> obs.Selection:
    parent = q.string("parentObservationId")
    if v2 and parent is None and "parentObservationId" in q.raw:
        parent = ""  # v2: an empty value asks for observations without a parent
    return obs.select_from_query(
        pid,
        filter_raw=q.string("filter"),
        name=q.string("name"),
        user_id=q.string("userId"),
        session_id=q.string("sessionId") if v2 else None,
        obs_type=q.enum("type", obs.OBSERVATION_TYPES),
        trace_id=q.string("traceId"),
        level=q.enum("level", obs.LEVELS),
        parent_observation_id=parent,
        root_only=q.boolean("isRootObservation") if v2 else None,
        environments=q.strings("environment"),
        start=q.datetime("fromStartTime"),
        end=q.datetime("toStartTime"),
        version=q.string("version"),
    )


async def list_v1(request: web.Request) -> web.Response:
    pid = await project_id(request)
    q = Query(request.query)
    page = q.page()
    sel = _selection(pid, q, v2=False)
    stores = request.app[STORES]
    rows, total = await obs.page_v1(stores.ch, sel, page)
    prices = await unit_prices(stores.pg, pid, (r.get("internal_model_id") for r in rows))
    data = [obs.observation_json(r, for_model(prices, r.get("internal_model_id"))) for r in rows]
    return json_response({"data": data, "meta": page.meta(total)})


async def get_v1(request: web.Request) -> web.Response:
    pid = await project_id(request)
    observation_id = request.match_info["observationId"]
    stores = request.app[STORES]
    row = await obs.get_one(stores.ch, pid, observation_id)
    if row is None:
        raise not_found(f"Observation not found within authorized project: {observation_id}")
    prices = await unit_prices(stores.pg, pid, [row.get("internal_model_id")])
    return json_response(obs.observation_json(row, for_model(prices, row.get("internal_model_id"))))


async def list_v2(request: web.Request) -> web.Response:
    pid = await project_id(request)
    q = Query(request.query)
    if q.boolean("parseIoAsJson"):
        raise invalid(
            "parseIoAsJson",
            "true is no longer supported: input and output are always returned as raw strings; "
            "remove the parameter or set it to false",
        )
    limit = q.integer("limit", default=50, lo=1, hi=V2_MAX_LIMIT)
    groups = field_groups(q, obs.V2_GROUPS, obs.V2_DEFAULT_GROUPS, strict=True) | {"core"}
    expand = set(q.csv("expandMetadata"))
    position = None
    raw_cursor = q.string("cursor")
    if raw_cursor is not None:
        c = cursors.decode(raw_cursor, ("lastStartTimeTo", "lastTraceId", "lastId"))
        if not isinstance(c["lastStartTimeTo"], str):
            raise invalid("cursor", "invalid cursor format")
        start_us = micros_of(parse_datetime("cursor", c["lastStartTimeTo"]))
        position = (start_us, str(c["lastTraceId"]), str(c["lastId"]))
    sel = _selection(pid, q, v2=True)
    stores = request.app[STORES]
    rows = await obs.page_v2(stores.ch, sel, limit, position, obs.columns_for(groups))
    more = len(rows) > limit
    rows = rows[:limit]
    context = {}
    if {"basic", "trace_context"} & groups:
        context = await traces.context_for(stores.ch, pid, (r["trace_id"] for r in rows))
    prices = {}
    if "model" in groups:
        prices = await unit_prices(stores.pg, pid, (r.get("internal_model_id") for r in rows))
    data = [
        obs.view_v2(r, groups, context.get(r["trace_id"]), for_model(prices, r.get("internal_model_id")), expand)
        for r in rows
    ]
    meta: dict[str, str] = {}
    if more and rows:
        last = rows[-1]
        meta["cursor"] = cursors.encode(
            {"lastStartTimeTo": iso_micro(last["start_us"]), "lastTraceId": last["trace_id"], "lastId": last["id"]}
        )
    return json_response({"data": data, "meta": meta})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/public/observations", list_v1)
    app.router.add_get("/api/public/observations/{observationId}", get_v1)
    app.router.add_get("/api/public/v2/observations", list_v2)
