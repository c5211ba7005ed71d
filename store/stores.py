"""Every store a process needs, opened together and closed in reverse order."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
import msgspec

from spyglass.store.blob import BlobStore, open_blob_store
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.migrate import migrate as migrate_clickhouse
from spyglass.store.config import BlobConfig, ClickHouseConfig, PostgresConfig, RedisConfig
from spyglass.store.errors import StartupError, StoreError
from spyglass.store.locks import MergeLocks, open_merge_locks
from spyglass.store.postgres.api_keys import ApiKeys
from spyglass.store.postgres.database import PostgresStore
from spyglass.store.queue import Queue, open_queue

log = logging.getLogger("spyglass.store")

INGEST_QUEUE = "ingest"


class StoresConfig(msgspec.Struct, frozen=True, kw_only=True):
    clickhouse: ClickHouseConfig
    postgres: PostgresConfig
    redis: RedisConfig
    events_blob: BlobConfig
    media_blob: BlobConfig
    exports_blob: BlobConfig
    salt: str
    signing_key: str
    public_url: str
    durable_postgres: bool = True
    queue_visibility_seconds: float = 60.0


class Stores:
    """Opened stores. `clickhouse` is None in a process that never touches it (collector)."""

    def __init__(
        self,
        *,
        cfg: StoresConfig,
        clickhouse: ClickHouse | None,
        postgres: PostgresStore,
        events_blob: BlobStore,
        media_blob: BlobStore,
        exports_blob: BlobStore,
        queue: Queue,
        merge_locks: MergeLocks,
    ) -> None:
        self.cfg = cfg
        self.clickhouse = clickhouse
        self.postgres = postgres
        self.events_blob = events_blob
        self.media_blob = media_blob
        self.exports_blob = exports_blob
        self.queue = queue
        self.merge_locks = merge_locks
        self.api_keys = ApiKeys(postgres.pool, cfg.salt)

    @property
    def ch(self) -> ClickHouse:
        if self.clickhouse is None:
            raise RuntimeError("this process was started without ClickHouse")
        return self.clickhouse

    @property
    def pg(self) -> asyncpg.Pool:
        return self.postgres.pool

    async def check(self) -> None:
        """Real round trips to the databases (the health check with failIfDatabaseUnavailable)."""
        await self.postgres.ping()
        if self.clickhouse is not None:
            await self.clickhouse.scalar("SELECT count() FROM traces WHERE project_id = ''")


@contextlib.asynccontextmanager
async def open_stores(cfg: StoresConfig, *, clickhouse: bool = True) -> AsyncIterator[Stores]:
    async with contextlib.AsyncExitStack() as stack:
        # Cheapest checks first, so a wrong URL fails in a second, before the engines start.
        pg = await PostgresStore.open(cfg.postgres, durable=cfg.durable_postgres)
        stack.push_async_callback(pg.close)
        blobs = []
        for name, bcfg in (("events", cfg.events_blob), ("media", cfg.media_blob), ("exports", cfg.exports_blob)):
            blob = open_blob_store(
                bcfg, name=name, public_base_url=cfg.public_url, signing_secret=cfg.signing_key.encode()
            )
            stack.push_async_callback(blob.close)
            try:
                if not bcfg.is_s3:
                    await blob.ensure_bucket()
                await blob.check()
            except StoreError as exc:
                where = bcfg.endpoint or (f"s3://{bcfg.bucket}" if bcfg.is_s3 else bcfg.local_dir)
                raise StartupError(f"blob store '{name}'", where, str(exc)) from None
            blobs.append(blob)
        queue = open_queue(cfg.redis, INGEST_QUEUE, visibility_timeout=cfg.queue_visibility_seconds)
        stack.push_async_callback(queue.close)
        try:
            await queue.backlog()
        except StoreError as exc:
            raise StartupError("redis", cfg.redis.url, str(exc)) from None
        # Same Redis as the queue: a shared queue is exactly when several workers merge at once.
        merge_locks = open_merge_locks(cfg.redis)
        stack.push_async_callback(merge_locks.close)
        ch: ClickHouse | None = None
        if clickhouse:
            ch = ClickHouse(cfg.clickhouse)
            stack.push_async_callback(ch.close)
            await ch.open()
            if cfg.clickhouse.migrate:
                applied = await migrate_clickhouse(ch)
                if applied:
                    log.info("clickhouse: applied %s", ", ".join(f"{m.version:04d}_{m.name}" for m in applied))
        yield Stores(
            cfg=cfg,
            clickhouse=ch,
            postgres=pg,
            events_blob=blobs[0],
            media_blob=blobs[1],
            exports_blob=blobs[2],
            queue=queue,
            merge_locks=merge_locks,
        )
