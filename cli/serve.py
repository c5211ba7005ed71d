"""Compose a Spyglass process from its roles: api, collector, worker (all three = `serve`).

Every resource is opened and closed by one cleanup context, in order: stores, then the
headless init, then the worker, then the gRPC receiver; aiohttp closes them in reverse, after
the HTTP listener stopped, so shutdown drains instead of dropping accepted work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from spyglass.cli import logs
from spyglass.cli.runtime import DataDirLock, load_or_create_secrets
from spyglass.cli.settings import Settings
from spyglass.collector.auth import Authenticator, AuthLimits
from spyglass.collector.http import AUTH, COLLECTOR_CONFIG, INTAKE, LIFECYCLE, STORES, WORKER, create_app
from spyglass.collector.intake import Intake
from spyglass.collector.receivers.bodies import RUNNER_KWARGS, decompress_bodies
from spyglass.collector.receivers.routes import add_ingest_routes
from spyglass.query.routes import add_health_routes, add_read_routes
from spyglass.query.views.metrics import metrics_cache_ctx
from spyglass.store.errors import ConfigError, StartupError
from spyglass.store.postgres.bootstrap import InitSpec, ensure_init
from spyglass.store.stores import StoresConfig, open_stores

log = logging.getLogger("spyglass")

ALL_ROLES = frozenset({"api", "collector", "worker"})
GRPC_PORT: web.AppKey[int] = web.AppKey("grpc_port", int)

Announce = Callable[[str], None]


def stores_config(settings: Settings, public_url: str) -> StoresConfig:
    secrets = load_or_create_secrets(settings.data_dir, settings.salt)
    return StoresConfig(
        clickhouse=settings.clickhouse,
        postgres=settings.postgres,
        redis=settings.redis,
        events_blob=settings.events_blob,
        media_blob=settings.media_blob,
        exports_blob=settings.exports_blob,
        salt=secrets.salt,
        signing_key=secrets.signing_key,
        public_url=public_url,
        queue_visibility_seconds=settings.collector.visibility_timeout_seconds,
    )


def check_roles(settings: Settings, roles: frozenset[str]) -> None:
    if roles == ALL_ROLES:
        return
    if settings.clickhouse.embedded and "api" in roles:
        # The API and the worker both need ClickHouse; chDB lets only one process open it. A lone
        # worker may own it (the data-dir lock keeps a second one out).
        raise ConfigError(
            "clickhouse.url",
            "chdb:// is owned by one process; `spyglass api` needs a ClickHouse server (CLICKHOUSE_URL)",
        )
    if settings.postgres.embedded:
        raise ConfigError("postgres.url", "scale-out roles need a shared PostgreSQL (DATABASE_URL)")
    if settings.redis.url is None and roles & {"collector", "worker"}:
        raise ConfigError("redis.url", "scale-out roles need Redis for the queue (REDIS_CONNECTION_STRING)")
    if (not settings.events_blob.is_s3) and roles & {"collector", "worker"}:
        log.warning("events blob store is a local directory; collector and worker must share that disk")


def build_app(
    settings: Settings,
    roles: frozenset[str],
    *,
    public_url: str,
    announce: Announce = print,
    stores_cfg: StoresConfig | None = None,
) -> web.Application:
    cfg = stores_cfg or stores_config(settings, public_url)

    async def stores_ctx(app: web.Application) -> AsyncIterator[None]:
        async with open_stores(cfg, clickhouse=bool(roles & {"api", "worker"})) as stores:
            app[STORES] = stores
            app[AUTH] = Authenticator(
                stores.api_keys, settings.api.api_key_cache_seconds, limits=AuthLimits.of(settings.collector)
            )
            app[INTAKE] = Intake(stores.events_blob, stores.queue, settings.collector)
            app[COLLECTOR_CONFIG] = settings.collector
            yield
            await app[INTAKE].drain()
            await app[AUTH].drain()

    async def init_ctx(app: web.Application) -> AsyncIterator[None]:
        init = InitSpec(**{f: getattr(settings.init, f) for f in InitSpec.__struct_fields__})
        result = await ensure_init(app[STORES].pg, init, salt=app[STORES].cfg.salt)
        for warning in result.warnings:
            log.warning("init: %s", warning)
        if result.default_key is not None:
            key = result.default_key
            announce(
                "\n".join(
                    [
                        "Created a default organization, project and API key pair (shown once):",
                        f"  LANGFUSE_PUBLIC_KEY={key.public_key}",
                        f"  LANGFUSE_SECRET_KEY={key.secret_key}",
                        f"  LANGFUSE_BASE_URL={public_url}",
                    ]
                )
            )
        yield

    async def worker_ctx(app: web.Application) -> AsyncIterator[None]:
        from spyglass.collector.worker.runner import run_worker

        async with run_worker(app[STORES], settings.collector, state_dir=settings.data_dir) as worker:
            app[WORKER] = worker
            yield

    async def grpc_ctx(app: web.Application) -> AsyncIterator[None]:
        from spyglass.collector.receivers.otlp_grpc import start_grpc_server

        server, port = await start_grpc_server(settings.collector, app)
        app[GRPC_PORT] = port
        yield
        await server.stop(grace=settings.api.shutdown_timeout_seconds)

    contexts: list[Callable[[web.Application], AsyncIterator[None]]] = [stores_ctx]
    if "api" in roles:
        contexts.append(init_ctx)
        contexts.append(metrics_cache_ctx(settings.api))
    if "worker" in roles:
        contexts.append(worker_ctx)
    if "collector" in roles and settings.collector.grpc_enabled:
        contexts.append(grpc_ctx)
    groups = [add_health_routes]
    if "collector" in roles:
        groups.append(add_ingest_routes)
    if "api" in roles:
        groups.append(add_read_routes)
    max_body = settings.collector.largest_body_bytes
    app = create_app(contexts=contexts, route_groups=groups, client_max_size=max_body)
    # The server leaves bodies compressed (RUNNER_KWARGS) so the OTLP receiver can persist gzip
    # as received; every other route gets its body inflated by this middleware, as before.
    app.middlewares.append(decompress_bodies)
    return app


def public_url_of(settings: Settings) -> str:
    if settings.api.public_url:
        return settings.api.public_url.rstrip("/")
    host = settings.api.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{host}:{settings.api.port}"


def configure_logging(settings: Settings) -> None:
    logs.configure(settings.log_level, settings.log_format)


async def serve_process(settings: Settings, roles: set[str] | frozenset[str]) -> int:
    roles = frozenset(roles)
    configure_logging(settings)
    check_roles(settings, roles)
    lock = None
    if settings.postgres.embedded or (settings.clickhouse.embedded and roles & {"api", "worker"}):
        lock = DataDirLock(settings.data_dir)
        lock.acquire()
    try:
        public_url = public_url_of(settings)
        app = build_app(settings, roles, public_url=public_url)
        runner = web.AppRunner(
            app,
            handle_signals=False,
            shutdown_timeout=settings.api.shutdown_timeout_seconds,
            access_log=None,
            **RUNNER_KWARGS,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, settings.api.host, settings.api.port)
            try:
                await site.start()
            except OSError as exc:
                raise StartupError(
                    "http", f"{settings.api.host}:{settings.api.port}", exc.strerror or str(exc)
                ) from None
            parts = [f"HTTP {public_url}"]
            if GRPC_PORT in app:
                parts.append(f"OTLP/gRPC {settings.collector.grpc_host}:{app[GRPC_PORT]}")
            print(f"Spyglass {'/'.join(sorted(roles))} ready: " + ", ".join(parts), flush=True)
            await _wait_for_signal()
            app[LIFECYCLE].draining = True
            log.info("shutting down: draining")
        finally:
            await runner.cleanup()
    finally:
        if lock is not None:
            lock.release()
    return 0


async def _wait_for_signal() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
