"""/api/public/traces: list, get, delete (one or many)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from spyglass.collector.http import STORES, bad_request, json_response, not_found
from spyglass.query.reads import deletion, observations, scores, traces
from spyglass.query.reads.params import Query, field_groups, invalid, json_body
from spyglass.query.reads.prices import for_model, unit_prices
from spyglass.query.reads.scope import project_id
from spyglass.query.views.metrics import rows_deleted

# Upstream's documented placeholders for left-out groups: empty id lists, -1 for the metrics.
_NO_METRIC = -1.0


async def list_traces(request: web.Request) -> web.Response:
    pid = await project_id(request)
    q = Query(request.query)
    page = q.page()
    order = traces.order_from(q.string("orderBy"))
    if order is None:
        fields = ", ".join(traces.ORDER_COLUMNS)
        raise invalid("orderBy", f"expected <field>.asc or <field>.desc with field one of {fields}")
    groups = field_groups(q, traces.FIELD_GROUPS, traces.FIELD_GROUPS)
    sel = traces.select_from_query(
        pid,
        user_id=q.string("userId"),
        name=q.string("name"),
        session_id=q.string("sessionId"),
        tags=q.strings("tags"),
        version=q.string("version"),
        release=q.string("release"),
        environments=q.strings("environment"),
        start=q.datetime("fromTimestamp"),
        end=q.datetime("toTimestamp"),
        filter_raw=q.string("filter"),
    )
    ch = request.app[STORES].ch
    picked, total = await traces.page_ids(ch, sel, page, order)
    with_io = "io" in groups
    want_obs = bool({"observations", "metrics"} & groups)
    ids = [r["id"] for r in picked]
    since = min((int(r["ts_us"]) for r in picked), default=0)
    rows, obs_stats, score_map = await asyncio.gather(
        traces.rows_for(ch, pid, picked, with_io=with_io),
        traces.observation_stats(ch, pid, ids, since) if want_obs else _nothing(),
        traces.score_ids(ch, pid, ids, since) if "scores" in groups else _nothing(),
    )
    data = []
    for row in rows:
        item = traces.trace(row, with_io=with_io)
        stats = obs_stats.get(row["id"])
        item["observations"] = (stats.observation_ids if stats else []) if "observations" in groups else []
        item["scores"] = score_map.get(row["id"], []) if "scores" in groups else []
        if "metrics" in groups:
            item["latency"] = stats.latency if stats else 0.0
            item["totalCost"] = stats.total_cost if stats else 0.0
        else:
            item["latency"] = item["totalCost"] = _NO_METRIC
        data.append(item)
    return json_response({"data": data, "meta": page.meta(total)})


async def _nothing() -> dict[str, Any]:
    return {}


async def get_trace(request: web.Request) -> web.Response:
    pid = await project_id(request)
    trace_id = request.match_info["traceId"]
    groups = field_groups(Query(request.query), traces.FIELD_GROUPS, traces.FIELD_GROUPS)
    stores = request.app[STORES]
    # The children are found by trace id alone, so the observations (the slowest read) are read
    # alongside the trace. The scores wait for the trace row: they still finish before the
    # observations when it exists, and a miss (a client polling for a trace not yet ingested)
    # costs two queries instead of three. Groups left out of `fields` are not read at all.
    trace_read = asyncio.ensure_future(traces.get_one(stores.ch, pid, trace_id))
    want_obs = bool({"observations", "metrics"} & groups)

    async def scores_if_found() -> list[dict[str, Any]]:
        return await scores.for_trace(stores.ch, pid, trace_id) if await trace_read is not None else []

    async def none() -> list[dict[str, Any]]:
        return []

    row, obs_rows, score_rows = await asyncio.gather(
        trace_read,
        observations.for_trace(stores.ch, pid, trace_id) if want_obs else none(),
        scores_if_found() if "scores" in groups else none(),
    )
    if row is None:
        raise not_found(f"Trace not found within authorized project: {trace_id}")
    out = traces.trace(row, with_io="io" in groups)
    if "metrics" in groups:
        out["latency"], out["totalCost"] = traces.stats_of(obs_rows)
    else:
        out["latency"] = out["totalCost"] = _NO_METRIC
    if "observations" in groups:
        prices = await unit_prices(stores.pg, pid, (r.get("internal_model_id") for r in obs_rows))
        out["observations"] = [
            observations.observation_json(r, for_model(prices, r.get("internal_model_id"))) for r in obs_rows
        ]
    else:
        out["observations"] = []
    out["scores"] = [s for s in (scores.score_v1(r) for r in score_rows) if s is not None]
    return json_response(out)


async def delete_trace(request: web.Request) -> web.Response:
    pid = await project_id(request)
    trace_id = request.match_info["traceId"]
    if not await deletion.delete_traces(request.app[STORES].ch, request.app[STORES].pg, pid, [trace_id]):
        raise not_found(f"Trace not found within authorized project: {trace_id}")
    rows_deleted(request.app, pid)
    return json_response({"message": "Trace deleted successfully"})


async def delete_traces(request: web.Request) -> web.Response:
    pid = await project_id(request)
    body = await json_body(request)
    ids = body.get("traceIds")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise bad_request("Invalid request body: 'traceIds' must be a non-empty array of trace id strings")
    found = await deletion.delete_traces(request.app[STORES].ch, request.app[STORES].pg, pid, ids)
    if not found:
        raise not_found(f"None of the {len(set(ids))} traces was found within the authorized project")
    rows_deleted(request.app, pid)
    missing = len(set(ids)) - len(found)
    if missing:
        return json_response({"message": f"Traces deleted; {missing} of them were not found in this project"})
    return json_response({"message": "Traces deleted successfully"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/public/traces", list_traces)
    app.router.add_delete("/api/public/traces", delete_traces)
    app.router.add_get("/api/public/traces/{traceId}", get_trace)
    app.router.add_delete("/api/public/traces/{traceId}", delete_trace)
