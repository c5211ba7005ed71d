"""Every read-side route group, in one list the app factory mounts."""

from __future__ import annotations

from aiohttp import web

from spyglass.query.views import blobs, health, projects


def add_health_routes(app: web.Application) -> None:
    health.add_routes(app)


def add_read_routes(app: web.Application) -> None:
    projects.add_routes(app)
    blobs.add_routes(app)
