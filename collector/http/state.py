"""Typed application state shared by the collector's and the query service's handlers."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from spyglass.collector.auth import Authenticator
from spyglass.collector.config import CollectorConfig
from spyglass.collector.intake import Intake
from spyglass.store.stores import Stores


class Lifecycle(msgspec.Struct):
    """Mutable process state the handlers read."""

    draining: bool = False
    in_flight: int = 0


STORES: web.AppKey[Stores] = web.AppKey("stores", Stores)
LIFECYCLE: web.AppKey[Lifecycle] = web.AppKey("lifecycle", Lifecycle)
AUTH: web.AppKey[Authenticator] = web.AppKey("auth", Authenticator)
INTAKE: web.AppKey[Intake] = web.AppKey("intake", Intake)
COLLECTOR_CONFIG: web.AppKey[CollectorConfig] = web.AppKey("collector_config", CollectorConfig)
# The ingest worker of a process running the worker role (collector.worker.consumer.IngestWorker).
WORKER: web.AppKey[Any] = web.AppKey("worker", object)
