"""Start and stop the ingestion worker inside a process (used by `serve` and `worker`)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

from spyglass.collector.config import CollectorConfig
from spyglass.collector.worker.consumer import IngestWorker
from spyglass.collector.worker.cpu_priority import ThreadLowerer
from spyglass.collector.worker.map_pool import PayloadMapper
from spyglass.collector.worker.processor_factory import build_processor
from spyglass.collector.worker.reconciler import Reconciler, RedisWatermarks
from spyglass.collector.worker.recovery import Settled, Watermark, recover
from spyglass.store.postgres.dead_letters import DeadLetters
from spyglass.store.postgres.models_repo import MODELS_CHANGED_CHANNEL
from spyglass.store.postgres.notify import ROWS_DELETED, announce_written, follow
from spyglass.store.postgres.tenancy import Tenancy
from spyglass.store.queue import MemoryQueue, RedisStreamQueue
from spyglass.store.stores import Stores

log = logging.getLogger("spyglass.worker")


@contextlib.asynccontextmanager
async def run_worker(stores: Stores, cfg: CollectorConfig, *, state_dir: Path) -> AsyncIterator[IngestWorker]:
    lower = cfg.background_priority == "idle"
    mapper = PayloadMapper(cfg.worker_concurrency, cfg.largest_body_bytes, lower=lower)
    mapper.warm_up()
    # What startup loaded (modules, the price catalog, engines' clients) lives as long as the
    # process: keeping it out of the collector shortens every full collection, which would
    # otherwise pause request handling for tens of milliseconds under ingest.
    gc.freeze()
    processor = build_processor(stores, mapper=mapper)
    worker = IngestWorker(
        ch=stores.ch,
        blob=stores.events_blob,
        queue=stores.queue,
        processor=processor,
        dead_letters=DeadLetters(stores.pg),
        cfg=cfg,
        announce=lambda written: announce_written(stores.pg, written),
    )
    settled = Settled(stores.ch, DeadLetters(stores.pg))
    watermark: Watermark | None = None
    if isinstance(stores.queue, MemoryQueue):
        # Nothing survives a crash in an in-process queue but the raw log: rebuild from it.
        watermark = Watermark(state_dir / "worker.watermark")
        since = watermark.read()
        projects = await _project_ids(stores)
        await recover(settled, stores.events_blob, stores.queue, projects, since if since is not None else 0.0)
    # Any process (this one's API included) may change a project's models (prices of new data)
    # or delete its rows (cached merge state): drop what this worker cached for that project.
    handlers = {MODELS_CHANGED_CHANNEL: processor.models_changed, ROWS_DELETED: processor.forget_project}
    follower = asyncio.create_task(follow(stores.pg, handlers, processor.listening), name="worker-notifications")
    # The merges of an embedded chDB run in this process; a ClickHouse server has none here.
    lowerer = ThreadLowerer().start() if lower else None
    # Redis may lose queued references (a crash, a failover): the raw log still has the payloads.
    reconciler: asyncio.Task[None] | None = None
    marks: RedisWatermarks | None = None
    if isinstance(stores.queue, RedisStreamQueue) and cfg.reconcile_interval_seconds > 0:
        marks = RedisWatermarks(stores.cfg.redis)
        reconcile = Reconciler(
            blob=stores.events_blob,
            settled=settled,
            queue=stores.queue,
            locks=stores.merge_locks,
            watermarks=marks,
            projects=lambda: _project_ids(stores),
            cfg=cfg,
        )
        reconciler = asyncio.create_task(reconcile.run(), name="reconciler")
    try:
        async with _running(worker, stores, watermark):
            yield worker
    finally:
        for task in (follower, reconciler):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if marks is not None:
            await marks.close()
        await asyncio.to_thread(mapper.close)
        if lowerer is not None:
            await asyncio.to_thread(lowerer.stop)


async def _project_ids(stores: Stores) -> list[str]:
    # Deleted projects too: a payload accepted before its project was deleted is still processed.
    return [p.id for p in await Tenancy(stores.pg).list_projects(include_deleted=True)]


@contextlib.asynccontextmanager
async def _running(worker: IngestWorker, stores: Stores, watermark: Watermark | None) -> AsyncIterator[None]:
    task = asyncio.create_task(worker.run(), name="ingest-worker")
    marker = asyncio.create_task(_keep_watermark(worker, stores, watermark), name="watermark") if watermark else None
    try:
        yield
    finally:
        if marker is not None:
            marker.cancel()
        worker.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        await worker.drain(10)


async def _keep_watermark(worker: IngestWorker, stores: Stores, watermark: Watermark) -> None:
    while True:
        await asyncio.sleep(1.0)
        if await stores.queue.backlog() == 0:
            # Everything received before now is committed (in-flight payloads are covered by
            # the recovery margin).
            watermark.advance(time.time())
