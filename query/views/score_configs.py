"""/api/public/score-configs: create, list, get, update (archive)."""

from __future__ import annotations

from aiohttp import web

from spyglass.collector.http import STORES, json_response, not_found
from spyglass.query.reads import score_configs
from spyglass.query.reads.params import Query, json_body
from spyglass.query.reads.scope import project_id


def _missing(config_id: str) -> Exception:
    return not_found(f"Score config not found within authorized project: {config_id}")


async def create_config(request: web.Request) -> web.Response:
    pid = await project_id(request)
    config = score_configs.NewConfig(await json_body(request))
    return json_response(await score_configs.create(request.app[STORES].pg, pid, config))


async def list_configs(request: web.Request) -> web.Response:
    pid = await project_id(request)
    page = Query(request.query).page()
    rows, total = await score_configs.page(request.app[STORES].pg, pid, page)
    return json_response({"data": rows, "meta": page.meta(total)})


async def get_config(request: web.Request) -> web.Response:
    pid = await project_id(request)
    config_id = request.match_info["configId"]
    row = await score_configs.get(request.app[STORES].pg, pid, config_id)
    if row is None:
        raise _missing(config_id)
    return json_response(row)


async def update_config(request: web.Request) -> web.Response:
    pid = await project_id(request)
    config_id = request.match_info["configId"]
    body = await json_body(request)
    row = await score_configs.update(request.app[STORES].pg, pid, config_id, body)
    if row is None:
        raise _missing(config_id)
    return json_response(row)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/public/score-configs", create_config)
    app.router.add_get("/api/public/score-configs", list_configs)
    app.router.add_get("/api/public/score-configs/{configId}", get_config)
    app.router.add_patch("/api/public/score-configs/{configId}", update_config)
