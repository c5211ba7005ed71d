"""The raw-log reconciler on real engines: chDB's ingest_log, PostgreSQL's dead letters, the raw
log in S3 (SeaweedFS) or a local directory, the queue, locks and watermarks in Redis."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from spyglass.collector.config import CollectorConfig
from spyglass.collector.rawlog import RawRef, decode_ref, encode_ref, make_ref
from spyglass.collector.worker.encode import json_each_row
from spyglass.collector.worker.reconciler import Mark, Reconciler, RedisWatermarks
from spyglass.collector.worker.recovery import Settled, recover, scan_raw_log
from spyglass.store.blob import BlobStore, LocalBlobStore, LocalUrlSigner
from spyglass.store.blob.s3 import S3BlobStore
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.rows import IngestLogRow
from spyglass.store.config import BlobConfig, RedisConfig
from spyglass.store.locks import RedisMergeLocks
from spyglass.store.postgres.dead_letters import DeadLetters
from spyglass.store.postgres.migrate import migrate
from spyglass.store.postgres.pool import create_pool
from spyglass.store.queue import MemoryQueue, RedisStreamQueue

GRACE = 30.0
CFG = CollectorConfig(reconcile_interval_seconds=10, reconcile_grace_seconds=GRACE, reconcile_lookback_hours=1)


@pytest.fixture(scope="module")
async def pg(pg_server_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(pg_server_dsn, max_size=4)
    await migrate(pool)
    yield pool
    await pool.close()


@pytest.fixture
async def s3(s3_server: Any) -> AsyncIterator[BlobStore]:
    cfg = BlobConfig(
        bucket=s3_server.create_bucket(),
        prefix="events/",
        endpoint=s3_server.endpoint,
        region=s3_server.region,
        access_key_id=s3_server.access_key,
        secret_access_key=s3_server.secret_key,
        force_path_style=True,
    )
    store = S3BlobStore(cfg, name="events", list_page_size=3)  # small pages: the listing spans several
    yield store
    await store.close()


@pytest.fixture
def redis_cfg(redis_url: str) -> RedisConfig:
    return RedisConfig(url=redis_url, key_prefix=f"rec-{secrets.token_hex(4)}")


@pytest.fixture
def settled(ch: ClickHouse, pg: asyncpg.Pool) -> Settled:
    return Settled(ch, DeadLetters(pg))


class World:
    """A project's raw log and what became of each payload."""

    def __init__(self, blob: BlobStore, ch: ClickHouse, pg: asyncpg.Pool) -> None:
        self.blob, self.ch, self.pg = blob, ch, pg
        self.project = f"p{secrets.token_hex(6)}"

    async def raw(self, seconds_ago: float) -> RawRef:
        ref = make_ref(self.project, "otel", "pb", int((time.time() - seconds_ago) * 1e6))
        await self.blob.put(ref.key, b"")
        return ref

    async def commit(self, *refs: RawRef) -> None:
        rows = [
            IngestLogRow(
                blob_key=r.key,
                project_id=r.project_id,
                source=r.source,
                received_at=r.received_us / 1e6,
                processed_at=time.time(),
                items=1,
            )
            for r in refs
        ]
        await self.ch.insert_json("ingest_log", json_each_row(rows))

    async def dead_letter(self, ref: RawRef) -> None:
        await DeadLetters(self.pg).record(
            project_id=ref.project_id, source=ref.source, blob_key=ref.key, reason="test", attempts=5
        )


async def test_scan_finds_what_is_neither_settled_nor_queued(
    s3: BlobStore, ch: ClickHouse, pg: asyncpg.Pool, settled: Settled
) -> None:
    w = World(s3, ch, pg)
    committed = await w.raw(600)
    dead = await w.raw(500)
    queued = await w.raw(400)
    lost = [await w.raw(300), await w.raw(200)]
    too_young = await w.raw(5)
    await w.commit(committed)
    await w.dead_letter(dead)
    cutoff = int((time.time() - GRACE) * 1e6)

    result = await scan_raw_log(
        s3, settled, w.project, from_us=committed.received_us, to_us=cutoff, queued={queued.key}
    )
    assert [r.key for r in result.lost] == [r.key for r in lost]
    # The queued payload is not lost but not settled either: the watermark stays before it.
    assert result.open_from_us == queued.received_us
    assert result.watermark_us == queued.received_us
    assert result.keys == 5
    assert too_young.key not in {r.key for r in result.lost}

    # From a later start: what was before it is not looked at.
    later = await scan_raw_log(s3, settled, w.project, from_us=lost[1].received_us, to_us=cutoff)
    assert [r.key for r in later.lost] == [lost[1].key]

    # Once all are settled the watermark reaches the cutoff.
    await w.commit(queued, *lost)
    done = await scan_raw_log(s3, settled, w.project, from_us=committed.received_us, to_us=cutoff)
    assert (done.lost, done.open_from_us, done.watermark_us) == ([], None, cutoff)


async def test_recover_at_start_queues_lost_payloads_but_not_dead_letters(
    tmp_path: Path, ch: ClickHouse, pg: asyncpg.Pool, settled: Settled
) -> None:
    """The in-process queue's start-up recovery runs the same scan."""
    blob = LocalBlobStore(tmp_path / "events", name="events", signer=LocalUrlSigner(b"k" * 32, "http://127.0.0.1"))
    await blob.ensure_bucket()
    try:
        w = World(blob, ch, pg)
        committed, dead, lost = await w.raw(30), await w.raw(20), await w.raw(10)
        await w.commit(committed)
        await w.dead_letter(dead)
        queue = MemoryQueue("ingest")
        assert await recover(settled, blob, queue, [w.project], time.time() - 60) == 1
        [message] = await queue.get_batch(10, 0.1)
        assert decode_ref(message.body) == lost
    finally:
        await blob.close()


def _reconciler(
    s3: BlobStore, settled: Settled, redis_cfg: RedisConfig, projects: list[str], cfg: CollectorConfig = CFG
) -> tuple[Reconciler, RedisStreamQueue, RedisMergeLocks, RedisWatermarks]:
    """One worker's reconciler: its own queue consumer, lock and watermark clients."""
    queue = RedisStreamQueue(redis_cfg, "ingest")
    locks = RedisMergeLocks(redis_cfg)
    marks = RedisWatermarks(redis_cfg)

    async def project_ids() -> list[str]:
        return projects

    rec = Reconciler(
        blob=s3, settled=settled, queue=queue, locks=locks, watermarks=marks, projects=project_ids, cfg=cfg
    )
    return rec, queue, locks, marks


async def _close(*parts: Any) -> None:
    for part in parts:
        await part.close()


async def _queued_keys(queue: RedisStreamQueue) -> list[str]:
    bodies = await queue.pending_bodies(1000)
    assert bodies is not None
    return sorted(decode_ref(b).key for b in bodies)


async def test_two_workers_requeue_each_lost_payload_once(
    s3: BlobStore, ch: ClickHouse, pg: asyncpg.Pool, settled: Settled, redis_cfg: RedisConfig
) -> None:
    w = World(s3, ch, pg)
    committed = await w.raw(300)
    lost = [await w.raw(200), await w.raw(100)]
    await w.commit(committed)
    a = _reconciler(s3, settled, redis_cfg, [w.project])
    b = _reconciler(s3, settled, redis_cfg, [w.project])
    try:
        counts = await asyncio.gather(a[0].reconcile(), b[0].reconcile())
        assert sorted(counts) == [0, 2]
        assert await _queued_keys(a[1]) == sorted(r.key for r in lost)
        # Not settled yet: the watermark waits at the oldest of them.
        mark = await a[3].get(w.project)
        assert mark is not None and mark.watermark_us == lost[0].received_us

        # A later pass (past half an interval) finds them queued: nothing is queued twice.
        await a[3].set(w.project, Mark(mark.watermark_us, mark.passed_at - 60))
        assert await b[0].reconcile() == 0
        assert await a[1].backlog() == 2

        # Processed: a worker commits them and acks; the watermark moves on to the cutoff.
        taken = await a[1].get_batch(10, 1.0)
        await w.commit(*lost)
        await a[1].ack([m.id for m in taken])
        await a[3].set(w.project, Mark(mark.watermark_us, 0.0))
        before = time.time()
        assert await a[0].reconcile() == 0
        moved = await a[3].get(w.project)
        assert moved is not None and moved.watermark_us >= int((before - GRACE) * 1e6)
    finally:
        await _close(*a[1:], *b[1:])


async def test_young_and_delayed_payloads_are_left_alone(
    s3: BlobStore, ch: ClickHouse, pg: asyncpg.Pool, settled: Settled, redis_cfg: RedisConfig
) -> None:
    """A payload still on its way (younger than the grace) or waiting for a retry is not lost."""
    w = World(s3, ch, pg)
    young = await w.raw(GRACE / 3)
    retried = await w.raw(200)
    rec, queue, locks, marks = _reconciler(s3, settled, redis_cfg, [w.project])
    try:
        await queue.put(encode_ref(retried))
        [message] = await queue.get_batch(1, 1.0)
        await queue.retry(message, 60)  # in the delayed set now, not in the stream
        assert await rec.reconcile() == 0
        assert await _queued_keys(queue) == [retried.key]
        mark = await marks.get(w.project)
        assert mark is not None and mark.watermark_us == retried.received_us
        assert young.received_us > mark.watermark_us
    finally:
        await _close(queue, locks, marks)


async def test_redis_that_lost_its_data_is_scanned_back_the_lookback(
    s3: BlobStore, ch: ClickHouse, pg: asyncpg.Pool, settled: Settled, redis_cfg: RedisConfig, redis_url: str
) -> None:
    """No watermark (Redis came back empty): look back `reconcile_lookback_hours`, no further."""
    w = World(s3, ch, pg)
    ancient = await w.raw(2 * 3600)  # before the one-hour lookback
    lost = await w.raw(600)
    rec, queue, locks, marks = _reconciler(s3, settled, redis_cfg, [w.project])
    raw = aioredis.Redis.from_url(redis_url)
    try:
        assert await rec.reconcile() == 1
        assert await _queued_keys(queue) == [lost.key]
        await raw.delete(marks.key, queue.stream_key)  # Redis came back empty
        assert await rec.reconcile() == 1
        assert await _queued_keys(queue) == [lost.key]
        assert ancient.key not in await _queued_keys(queue)
    finally:
        await raw.aclose()
        await _close(queue, locks, marks)


async def test_a_quiet_project_is_listed_less_often(
    s3: BlobStore, ch: ClickHouse, pg: asyncpg.Pool, settled: Settled, redis_cfg: RedisConfig
) -> None:
    """Each look is an S3 LIST: a project with nothing new waits twice as long before the next."""
    w = World(s3, ch, pg)
    rec, queue, locks, marks = _reconciler(s3, settled, redis_cfg, [w.project])
    interval = CFG.reconcile_interval_seconds
    try:
        since = int((time.time() - 600) * 1e6)
        await marks.set(w.project, Mark(since, time.time() - interval))
        assert await rec.reconcile() == 0
        first = await marks.get(w.project)
        assert first is not None and first.quiet == 1
        # One interval later a quiet project is not due yet (two are needed) ... (the marks are
        # set back in time; an older watermark than the pass left is always a safe one)
        await marks.set(w.project, Mark(since, time.time() - interval, first.quiet))
        lost = await w.raw(300)
        assert await rec.reconcile() == 0
        # ... two intervals later it is, and new payloads make it a busy one again.
        await marks.set(w.project, Mark(since, time.time() - 2 * interval, first.quiet))
        assert await rec.reconcile() == 1
        assert await _queued_keys(queue) == [lost.key]
        again = await marks.get(w.project)
        assert again is not None and again.quiet == 0
    finally:
        await _close(queue, locks, marks)
