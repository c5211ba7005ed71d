"""Every ingestion route group, in one list the app factory mounts."""

from __future__ import annotations

from aiohttp import web

from spyglass.collector.receivers import langfuse_api, otlp_http


def add_ingest_routes(app: web.Application) -> None:
    otlp_http.add_routes(app)
    langfuse_api.add_routes(app)
