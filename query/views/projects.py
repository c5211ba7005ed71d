"""GET /api/public/projects: the key's own project (what the SDKs' auth_check() calls)."""

from __future__ import annotations

from aiohttp import web

from spyglass.collector.http import STORES, ApiError, json_response
from spyglass.query.reads import scope
from spyglass.store.postgres.tenancy import Tenancy


async def list_projects(request: web.Request) -> web.Response:
    tenancy = Tenancy(request.app[STORES].pg)
    project = await tenancy.get_project(await scope.project_id(request))
    if project is None:
        raise ApiError(401, "Unauthorized: the key's project no longer exists")
    org = await tenancy.get_organization(project.org_id)
    item: dict[str, object] = {
        "id": project.id,
        "name": project.name,
        "organization": {"id": project.org_id, "name": org.name if org else ""},
        "metadata": project.metadata or {},
    }
    if project.retention_days is not None:
        item["retentionDays"] = project.retention_days
    return json_response({"data": [item]})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/public/projects", list_projects)
