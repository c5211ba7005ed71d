"""/api/public/v2/prompts: prompt management as the Langfuse SDKs call it.

Names may contain `/` (folders); current clients send them URL-encoded as one path segment
(`folder%2Fname`). aiohttp matches routes on the path with `%2F` still encoded and decodes
`match_info` afterwards, so `{name}` receives the whole name. The legacy Python SDK sends the
`/` unencoded, which the catch-all `{name:.+}` routes accept for reads and deletes.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from spyglass.collector.http import STORES, bad_request, json_response, not_found
from spyglass.query.prompts.cache import open_prompt_cache
from spyglass.query.prompts.list_filter import parse_prompt_filter
from spyglass.query.prompts.metrics import prompt_version_metrics
from spyglass.query.prompts.service import PromptService
from spyglass.query.reads.params import Query, json_body
from spyglass.query.reads.scope import project_id
from spyglass.query.reads.values import iso_dt
from spyglass.store.postgres.prompts_repo import PromptListFilter


class _PromptState:
    """The app's prompt service, built on first use (the stores open after routes are added)."""

    def __init__(self) -> None:
        self.service: PromptService | None = None

    def get(self, app: web.Application) -> PromptService:
        if self.service is None:
            stores = app[STORES]
            cache = open_prompt_cache(stores.cfg.redis.url, stores.cfg.redis.key_prefix)
            self.service = PromptService(stores.pg, cache)
        return self.service

    async def close(self, _app: web.Application) -> None:
        if self.service is not None:
            await self.service.cache.close()
            self.service = None


PROMPTS: web.AppKey[_PromptState] = web.AppKey("prompts", _PromptState)


def _service(request: web.Request) -> PromptService:
    return request.app[PROMPTS].get(request.app)


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not name:
        raise bad_request("Prompt name is required")
    return name


def _version_param(q: Query) -> int | None:
    if not q.has("version"):
        return None
    return q.integer("version", lo=1, hi=2**31 - 1)


def _path_version(request: web.Request) -> int:
    raw = request.match_info["version"]
    try:
        version = int(raw)
    except ValueError:
        raise bad_request(f"Invalid prompt version {raw!r}: expected a positive integer") from None
    if not 1 <= version <= 2**31 - 1:
        raise bad_request(f"Invalid prompt version {raw!r}: expected a positive integer")
    return version


async def get_prompt(request: web.Request) -> web.Response:
    pid = await project_id(request)
    q = Query(request.query)
    version = _version_param(q)
    label = q.string("label")
    if version is not None and label is not None:
        raise bad_request("Invalid query: give either 'version' or 'label', not both")
    resolve = q.boolean("resolve")
    body = await _service(request).get(
        pid, _name(request), version=version, label=label, resolve_refs=resolve is not False
    )
    return web.Response(body=body, content_type="application/json")


async def list_prompts(request: web.Request) -> web.Response:
    pid = await project_id(request)
    q = Query(request.query)
    # Upstream's default page size for prompt lists is 10 (50 elsewhere).
    page = q.page(default_limit=10, max_limit=100)
    raw_filter = q.string("filter")
    flt = PromptListFilter(
        name=q.string("name"),
        label=q.string("label"),
        tag=q.string("tag"),
        from_updated_at=q.datetime("fromUpdatedAt"),
        to_updated_at=q.datetime("toUpdatedAt"),
        conditions=parse_prompt_filter(raw_filter) if raw_filter is not None else None,
    )
    return json_response(await _service(request).list(pid, flt, page=page.page, limit=page.limit))


async def create_prompt(request: web.Request) -> web.Response:
    pid = await project_id(request)
    body = await json_body(request)
    return json_response(await _service(request).create(pid, body))


async def update_labels(request: web.Request) -> web.Response:
    pid = await project_id(request)
    body = await json_body(request)
    return json_response(await _service(request).add_labels(pid, _name(request), _path_version(request), body))


async def delete_prompt(request: web.Request) -> web.Response:
    pid = await project_id(request)
    q = Query(request.query)
    await _service(request).delete(pid, _name(request), version=_version_param(q), label=q.string("label"))
    return web.Response(status=204)


async def list_versions(request: web.Request) -> web.Response:
    """Every version of a prompt with the usage of its linked generations (UI and API)."""
    pid = await project_id(request)
    name = _name(request)
    service = _service(request)
    rows = await service.repo.versions(pid, name)
    if not rows:
        raise not_found(f"Prompt not found: '{name}'")
    metrics = await prompt_version_metrics(request.app[STORES].ch, pid, name)
    data = []
    for row in rows:
        m = metrics.get(row.version)
        data.append(
            {
                "id": row.id,
                "name": row.name,
                "version": row.version,
                "type": row.type,
                "labels": row.labels,
                "tags": row.tags,
                "commitMessage": row.commit_message,
                "createdBy": row.created_by,
                "createdAt": iso_dt(row.created_at),
                "updatedAt": iso_dt(row.updated_at),
                "metrics": (m.to_json() if m is not None else _NO_USAGE),
            }
        )
    return json_response({"data": data})


_NO_USAGE: dict[str, Any] = {
    "generationCount": 0,
    "medianLatencySeconds": None,
    "medianInputTokens": None,
    "medianOutputTokens": None,
    "medianTotalTokens": None,
    "medianCost": None,
    "totalCost": 0.0,
    "firstGenerationAt": None,
    "lastGenerationAt": None,
    "scores": {},
}


def add_routes(app: web.Application) -> None:
    state = _PromptState()
    app[PROMPTS] = state
    app.on_cleanup.append(state.close)
    app.router.add_get("/api/public/v2/prompts", list_prompts)
    app.router.add_post("/api/public/v2/prompts", create_prompt)
    app.router.add_get("/api/public/v2/prompts/{name}/versions", list_versions)
    app.router.add_patch("/api/public/v2/prompts/{name}/versions/{version}", update_labels)
    # `.+`: the legacy Python SDK (v2) sends folder names with their `/` unencoded.
    app.router.add_get("/api/public/v2/prompts/{name:.+}", get_prompt)
    app.router.add_delete("/api/public/v2/prompts/{name:.+}", delete_prompt)
