"""Datasets, dataset items, dataset runs and run items, as the Langfuse SDKs call them.

    /api/public/v2/datasets                         GET list, POST create
    /api/public/v2/datasets/{name}                  GET
    /api/public/dataset-items                       GET list, POST upsert
    /api/public/dataset-items/{id}                  GET, DELETE
    /api/public/datasets/{name}/runs                GET list
    /api/public/datasets/{name}/runs/{run}          GET (with items), DELETE
    /api/public/dataset-run-items                   GET list, POST create

Names with `/` arrive URL-encoded as one path segment; aiohttp decodes it after matching.
"""

from __future__ import annotations

from aiohttp import web

from spyglass.collector.http import STORES, bad_request, json_response
from spyglass.query.datasets.runs import RunService, create_run_item, parse_run_item_body
from spyglass.query.datasets.service import DatasetService
from spyglass.query.reads.params import Query, json_body
from spyglass.query.reads.scope import project_id


def _datasets(request: web.Request) -> DatasetService:
    return DatasetService(request.app[STORES].pg)


def _runs(request: web.Request) -> RunService:
    return RunService(request.app[STORES].pg)


async def list_datasets(request: web.Request) -> web.Response:
    pid = await project_id(request)
    page = Query(request.query).page()
    return json_response(await _datasets(request).list_datasets(pid, page=page.page, limit=page.limit))


async def create_dataset(request: web.Request) -> web.Response:
    pid = await project_id(request)
    return json_response(await _datasets(request).create_dataset(pid, await json_body(request)))


async def get_dataset(request: web.Request) -> web.Response:
    pid = await project_id(request)
    return json_response(await _datasets(request).get_dataset(pid, request.match_info["name"]))


async def upsert_item(request: web.Request) -> web.Response:
    pid = await project_id(request)
    return json_response(await _datasets(request).upsert_item(pid, await json_body(request)))


async def list_items(request: web.Request) -> web.Response:
    pid = await project_id(request)
    q = Query(request.query)
    page = q.page()
    return json_response(
        await _datasets(request).list_items(
            pid,
            dataset_name=q.string("datasetName"),
            source_trace_id=q.string("sourceTraceId"),
            source_observation_id=q.string("sourceObservationId"),
            as_of=q.datetime("version"),
            page=page.page,
            limit=page.limit,
        )
    )


async def get_item(request: web.Request) -> web.Response:
    pid = await project_id(request)
    return json_response(await _datasets(request).get_item(pid, request.match_info["id"]))


async def delete_item(request: web.Request) -> web.Response:
    pid = await project_id(request)
    return json_response(await _datasets(request).delete_item(pid, request.match_info["id"]))


async def list_runs(request: web.Request) -> web.Response:
    pid = await project_id(request)
    page = Query(request.query).page()
    return json_response(
        await _runs(request).list_runs(pid, request.match_info["name"], page=page.page, limit=page.limit)
    )


async def get_run(request: web.Request) -> web.Response:
    pid = await project_id(request)
    return json_response(await _runs(request).get_run(pid, request.match_info["name"], request.match_info["run"]))


async def delete_run(request: web.Request) -> web.Response:
    pid = await project_id(request)
    return json_response(await _runs(request).delete_run(pid, request.match_info["name"], request.match_info["run"]))


async def list_run_items(request: web.Request) -> web.Response:
    pid = await project_id(request)
    q = Query(request.query)
    dataset_id, run_name = q.string("datasetId"), q.string("runName")
    if dataset_id is None or run_name is None:
        raise bad_request("Invalid query: 'datasetId' and 'runName' are both required")
    page = q.page()
    return json_response(
        await _runs(request).list_run_items(
            pid, dataset_id=dataset_id, run_name=run_name, page=page.page, limit=page.limit
        )
    )


async def create_run_item_view(request: web.Request) -> web.Response:
    pid = await project_id(request)
    req = parse_run_item_body(dict(await json_body(request)))
    stores = request.app[STORES]
    return json_response(await create_run_item(stores.pg, pid, req, ch=stores.clickhouse))


def add_routes(app: web.Application) -> None:
    r = app.router
    # `{name:.+}`: the legacy Python SDK (v2) sends folder names with their `/` unencoded.
    r.add_get("/api/public/v2/datasets", list_datasets)
    r.add_post("/api/public/v2/datasets", create_dataset)
    r.add_get("/api/public/v2/datasets/{name:.+}", get_dataset)
    r.add_get("/api/public/dataset-items", list_items)
    r.add_post("/api/public/dataset-items", upsert_item)
    r.add_get("/api/public/dataset-items/{id:.+}", get_item)
    r.add_delete("/api/public/dataset-items/{id:.+}", delete_item)
    r.add_get("/api/public/datasets/{name:.+}/runs", list_runs)
    r.add_get("/api/public/datasets/{name:.+}/runs/{run}", get_run)
    r.add_delete("/api/public/datasets/{name:.+}/runs/{run}", delete_run)
    r.add_get("/api/public/dataset-run-items", list_run_items)
    r.add_post("/api/public/dataset-run-items", create_run_item_view)
