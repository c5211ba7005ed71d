"""Typed application state shared by the collector's and the query service's handlers.

The value types are imported for type checking only: the kernel sits below the modules that
define them (auth, intake, the worker, the stores), and those import the kernel's errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from aiohttp import web

if TYPE_CHECKING:
    from spyglass.collector.auth import Authenticator
    from spyglass.collector.config import CollectorConfig
    from spyglass.collector.intake import Intake
    from spyglass.collector.worker.consumer import IngestWorker
    from spyglass.store.stores import Stores


class Lifecycle(msgspec.Struct):
    """Mutable process state the handlers read."""

    draining: bool = False
    in_flight: int = 0


STORES: web.AppKey[Stores] = web.AppKey("stores")
LIFECYCLE: web.AppKey[Lifecycle] = web.AppKey("lifecycle", Lifecycle)
AUTH: web.AppKey[Authenticator] = web.AppKey("auth")
INTAKE: web.AppKey[Intake] = web.AppKey("intake")
COLLECTOR_CONFIG: web.AppKey[CollectorConfig] = web.AppKey("collector_config")
# Set in a process running the worker role.
WORKER: web.AppKey[IngestWorker] = web.AppKey("worker")
