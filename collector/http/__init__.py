"""The HTTP kernel every Spyglass server is built on: the collector's receivers and the query API.

One home for what all handlers share: the app factory and its middlewares, the typed app keys,
`ApiError` and the JSON answers. Import from here (collector/ included); the submodules are
the kernel's own.
"""

from spyglass.collector.http.app import CleanupCtx, RouteGroup, create_app
from spyglass.collector.http.errors import ORG_KEY_CANNOT_INGEST, ApiError, bad_request, json_response, not_found
from spyglass.collector.http.state import (
    AUTH,
    COLLECTOR_CONFIG,
    INTAKE,
    LIFECYCLE,
    STORES,
    WORKER,
    Lifecycle,
)

__all__ = [
    "AUTH",
    "COLLECTOR_CONFIG",
    "INTAKE",
    "LIFECYCLE",
    "ORG_KEY_CANNOT_INGEST",
    "STORES",
    "WORKER",
    "ApiError",
    "CleanupCtx",
    "Lifecycle",
    "RouteGroup",
    "bad_request",
    "create_app",
    "json_response",
    "not_found",
]
