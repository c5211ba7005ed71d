"""Several workers on one Redis queue merging into the same traces lose no update.

Each payload adds one tag and one metadata key to the same traces. Two workers (as two
`spyglass worker` processes would) take payloads from one Redis Stream concurrently and merge
them into the stored trace rows; the newest stored version must hold every payload's tag and key.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid

import msgspec
import pytest

from spyglass.collector.config import CollectorConfig
from spyglass.collector.intake import Intake
from spyglass.collector.worker.consumer import IngestWorker
from spyglass.collector.worker.map_pool import PayloadMapper
from spyglass.collector.worker.merge import RowProcessor
from spyglass.collector.worker.state import read_latest
from spyglass.store.blob import BlobStore
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.rows import TraceRow
from spyglass.store.config import RedisConfig
from spyglass.store.locks import RedisMergeLocks
from spyglass.store.postgres.dead_letters import DeadLetters
from spyglass.store.queue import RedisStreamQueue
from tests.otel.otlp_builders import make_request, make_span

pytestmark = pytest.mark.slow

PAYLOADS = 40
TRACES = [uuid.uuid4().hex for _ in range(3)]


async def test_two_workers_merging_the_same_traces_keep_every_update(
    ch: ClickHouse, redis_url: str, events_blob: BlobStore, dead_letters: DeadLetters
) -> None:
    project = f"merge-race-{uuid.uuid4().hex[:8]}"
    redis_cfg = RedisConfig(url=redis_url, key_prefix=f"race-{secrets.token_hex(4)}")
    cfg = CollectorConfig(batch_max_wait_ms=5)
    producer = RedisStreamQueue(redis_cfg, "ingest")
    intake = Intake(events_blob, producer, cfg)
    for i in range(PAYLOADS):
        spans = [
            make_span(
                trace_id=t,
                sid=i * 10 + n + 1,
                name=f"span-{i}",
                attrs={"langfuse.trace.tags": [f"tag-{i}"], f"langfuse.trace.metadata.k{i}": f"v{i}"},
            )
            for n, t in enumerate(TRACES)
        ]
        await intake.submit(project, "otel", "pb", make_request(spans).SerializeToString())

    workers, queues, locks, mappers = [], [], [], []
    for _ in range(2):
        queue = RedisStreamQueue(redis_cfg, "ingest")
        lock = RedisMergeLocks(redis_cfg)
        mapper = PayloadMapper(0)
        worker = IngestWorker(
            ch=ch,
            blob=events_blob,
            queue=queue,
            processor=RowProcessor(ch, mapper=mapper, locks=lock),
            dead_letters=dead_letters,
            cfg=cfg,
            batch_messages=2,
        )
        workers.append(worker)
        queues.append(queue)
        locks.append(lock)
        mappers.append(mapper)
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        async with asyncio.timeout(60):
            while sum(w.stats.payloads for w in workers) < PAYLOADS:
                await asyncio.sleep(0.05)
    finally:
        for w in workers:
            w.stop()
        await asyncio.gather(*tasks)
        for closeable in (*queues, *locks, producer):
            await closeable.close()
        for mapper in mappers:
            mapper.close()

    assert await dead_letters.list(project_id=project) == []
    # Both workers took part, so their merges could have raced.
    assert all(w.stats.payloads > 0 for w in workers), [w.stats.payloads for w in workers]
    rows = {r.id: r for r in await read_latest(ch, TraceRow, project, TRACES)}
    for t in TRACES:
        assert sorted(rows[t].tags) == sorted(f"tag-{i}" for i in range(PAYLOADS)), t
        assert {k: v for k, v in rows[t].metadata.items() if k.startswith("k")} == {
            f"k{i}": f"v{i}" for i in range(PAYLOADS)
        }
    # The version readers pick is unique: no two stored versions tie on event_ts.
    ties = await ch.rows(
        "SELECT id, event_ts, count() AS n FROM traces WHERE project_id = {p:String} "
        "GROUP BY id, event_ts HAVING n > 1",
        {"p": project},
    )
    assert ties == [], msgspec.json.encode(ties)
