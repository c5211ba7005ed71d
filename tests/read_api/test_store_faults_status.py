"""A store's "not found" or "conflict" that escapes a view is the client's 404 or 409, not a 500."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from spyglass.collector.http import create_app
from spyglass.store.postgres.faults import Conflict, NotFound


def _routes(app: web.Application) -> None:
    async def missing(_request: web.Request) -> web.Response:
        raise NotFound("organization 'o-1' does not exist")

    async def taken(_request: web.Request) -> web.Response:
        raise Conflict("a project named 'demo' already exists")

    app.router.add_get("/test-only/missing", missing)
    app.router.add_get("/test-only/taken", taken)


@pytest.mark.parametrize(
    ("path", "status", "error", "message"),
    [
        ("/test-only/missing", 404, "NotFoundError", "organization 'o-1' does not exist"),
        ("/test-only/taken", 409, "ConflictError", "a project named 'demo' already exists"),
    ],
)
async def test_store_not_found_and_conflict_map_to_404_and_409(
    path: str, status: int, error: str, message: str
) -> None:
    app = create_app(contexts=[], route_groups=[_routes], client_max_size=1024)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        resp = await client.get(path)
        assert resp.status == status
        assert await resp.json() == {"message": message, "error": error}
