"""Who is asking: every read is scoped to the project of the request's API key."""

from __future__ import annotations

from aiohttp import web

from spyglass.collector.http import AUTH, ApiError
from spyglass.store.postgres.rows import AuthScope


async def project_scope(request: web.Request) -> AuthScope:
    """The authenticated scope of a project key; organization keys cannot read project data."""
    scope = await request.app[AUTH].authenticate(request)
    if scope.project_id is None:
        raise ApiError(403, "Forbidden: an organization key cannot access project data; use a project key")
    return scope


async def project_id(request: web.Request) -> str:
    scope = await project_scope(request)
    assert scope.project_id is not None
    return scope.project_id
