"""GET /api/public/experiments and /api/public/experiment-items (cursor-paged, newest first)."""

from __future__ import annotations

from aiohttp import web

from spyglass.collector.http import STORES, json_response
from spyglass.query.datasets.experiments import (
    EXPERIMENT_FIELDS,
    ITEM_FIELDS,
    ExperimentFilter,
    decode_cursor,
    list_experiment_items,
    list_experiments,
)
from spyglass.query.reads.params import Query, field_groups, invalid
from spyglass.query.reads.scope import project_id


def _filter(q: Query, *, id_key: str, name_key: str, item_key: str | None) -> ExperimentFilter:
    since = q.datetime("fromStartTime")
    if since is None:
        raise invalid("fromStartTime", "is required (a lower time bound keeps the query bounded)")
    if q.has("filter"):
        raise invalid("filter", "structured filters are not supported; use the id/name/datasetId parameters")
    return ExperimentFilter(
        since=since,
        until=q.datetime("toStartTime"),
        ids=q.csv(id_key),
        names=q.csv(name_key),
        item_ids=q.csv(item_key) if item_key else [],
        dataset_ids=q.csv("datasetId"),
        cursor=decode_cursor(q.string("cursor")),
        limit=q.integer("limit", default=50, lo=1, hi=100),
        score_limit=q.integer("scoreLimit", default=50, lo=1, hi=50),
    )


async def experiments(request: web.Request) -> web.Response:
    pid = await project_id(request)
    q = Query(request.query)
    flt = _filter(q, id_key="id", name_key="name", item_key=None)
    fields = field_groups(q, EXPERIMENT_FIELDS, ("core",)) | {"core"}
    stores = request.app[STORES]
    return json_response(await list_experiments(stores.pg, stores.ch, pid, flt, fields))


async def experiment_items(request: web.Request) -> web.Response:
    pid = await project_id(request)
    q = Query(request.query)
    flt = _filter(q, id_key="experimentId", name_key="experimentName", item_key="experimentItemId")
    fields = field_groups(q, ITEM_FIELDS, ("core", "dataset")) | {"core"}
    stores = request.app[STORES]
    return json_response(await list_experiment_items(stores.pg, stores.ch, pid, flt, fields))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/public/experiments", experiments)
    app.router.add_get("/api/public/experiment-items", experiment_items)
