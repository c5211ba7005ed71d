"""The aiohttp application factory: one for the embedded default and every scale-out role.

The CLI decides which route groups and background contexts (opened and closed as cleanup
contexts) to mount; the middlewares and process state are the same everywhere.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable, Iterable

from aiohttp import web

from spyglass.collector.http.middleware import error_middleware, nul_middleware
from spyglass.collector.http.state import LIFECYCLE, Lifecycle

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]
RouteGroup = Callable[[web.Application], None]


def create_app(
    *,
    contexts: Iterable[CleanupCtx],
    route_groups: Iterable[RouteGroup],
    client_max_size: int,
) -> web.Application:
    app = web.Application(middlewares=[error_middleware, nul_middleware], client_max_size=client_max_size)
    app[LIFECYCLE] = Lifecycle()
    for ctx in contexts:
        app.cleanup_ctx.append(ctx)
    for add in route_groups:
        add(app)
    app.on_startup.append(_freeze_startup_objects)
    return app


async def _freeze_startup_objects(app: web.Application) -> None:
    """Move everything alive after startup (modules, price catalog, pools) out of the cyclic
    GC's reach. They live for the whole process, yet every full collection walked them again,
    pausing requests long enough to show in read latency on large stores. Runs after the
    cleanup contexts have opened the stores."""
    gc.collect()
    gc.freeze()
