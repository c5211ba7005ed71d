"""Liveness and readiness, as Langfuse exposes them (no auth)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

from spyglass.collector.http import LIFECYCLE, STORES, json_response
from spyglass.store.errors import SpyglassError

try:
    VERSION = version("spyglass")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    VERSION = "0.0.0"


async def health(request: web.Request) -> web.Response:
    flag = request.query.get("failIfDatabaseUnavailable", "false").lower() == "true"
    if flag:
        stores = request.app[STORES]
        try:
            await stores.check()
        except SpyglassError as exc:
            return json_response({"status": "Database error", "version": VERSION, "message": str(exc)}, 503)
    return json_response({"status": "OK", "version": VERSION})


async def ready(request: web.Request) -> web.Response:
    if request.app[LIFECYCLE].draining:
        return json_response({"status": "Shutting down", "version": VERSION}, 503)
    return json_response({"status": "OK", "version": VERSION})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/public/health", health)
    app.router.add_get("/api/public/ready", ready)
