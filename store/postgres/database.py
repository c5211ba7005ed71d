"""The Postgres store as one object: server (embedded or external), pool and schema."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from spyglass.store.config import PostgresConfig
from spyglass.store.errors import ConfigError
from spyglass.store.postgres.embedded import EmbeddedPostgres
from spyglass.store.postgres.migrate import MigrationReport, migrate
from spyglass.store.postgres.pool import DEFAULT_CONNECT_TIMEOUT, create_pool, ping

_log = logging.getLogger(__name__)


class PostgresStore:
    """Open with `await PostgresStore.open(config)`; close with `await store.close()`.

    Repositories take `store.pool`: Tenancy(pool), Users(pool), ApiKeys(pool, salt).
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        *,
        embedded: EmbeddedPostgres | None = None,
        migrations: MigrationReport | None = None,
    ) -> None:
        self.pool = pool
        self.dsn = dsn
        self.embedded = embedded
        self.migrations = migrations

    @classmethod
    async def open(
        cls,
        config: PostgresConfig,
        *,
        durable: bool = True,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    ) -> PostgresStore:
        """Start the embedded server if no URL is configured, connect, and migrate if enabled.

        `durable=False` turns fsync off on the embedded server (tests only).
        """
        server: EmbeddedPostgres | None = None
        if config.url is None:
            if not config.embedded_dir:
                raise ConfigError("postgres.embedded_dir", "needed when no Postgres URL is configured")
            server = EmbeddedPostgres(config.embedded_dir, durable=durable)
            dsn = await server.start_async()
        else:
            dsn = config.url
        try:
            pool = await create_pool(
                dsn, min_size=config.pool_min, max_size=config.pool_max, connect_timeout=connect_timeout
            )
            try:
                report = await migrate(pool) if config.migrate else None
            except BaseException:
                await pool.close()
                raise
        except BaseException:
            if server is not None:
                await server.stop_async()
            raise
        if report is not None and report.applied:
            _log.info("postgres: schema at version %d (%s)", report.current_version, ", ".join(report.applied))
        return cls(pool, dsn, embedded=server, migrations=report)

    async def ping(self, limit: float = 2.0) -> float:
        return await ping(self.pool, limit)

    async def close(self, grace: float = 10.0) -> None:
        """Close the pool, then stop the embedded server.

        Borrowed connections get `grace` seconds to come back; after that they are cut, so a
        leaked connection cannot hang shutdown.
        """
        try:
            try:
                await asyncio.wait_for(self.pool.close(), grace)
            except TimeoutError:
                _log.warning("postgres: connections still in use after %.0fs; terminating them", grace)
                self.pool.terminate()
        finally:
            if self.embedded is not None:
                await self.embedded.stop_async()
