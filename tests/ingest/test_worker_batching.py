"""How the worker gathers a batch: payloads arriving within `batch_max_wait_ms` of the first
one share its inserts; a full batch goes at once; a payload arriving later gets its own."""

from __future__ import annotations

import asyncio
import uuid

from spyglass.collector.config import CollectorConfig
from spyglass.collector.intake import Intake
from spyglass.collector.worker.consumer import IngestWorker
from spyglass.collector.worker.map_pool import PayloadMapper
from spyglass.collector.worker.merge import RowProcessor
from spyglass.store.blob import BlobStore
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.postgres.dead_letters import DeadLetters
from spyglass.store.queue import MemoryQueue
from tests.otel.otlp_builders import make_request, make_span


class _Pipeline:
    def __init__(
        self, ch: ClickHouse, blob: BlobStore, dead: DeadLetters, cfg: CollectorConfig, batch_messages: int
    ) -> None:
        self.project = f"batching-{uuid.uuid4().hex[:8]}"
        self.queue = MemoryQueue("batching")
        self.intake = Intake(blob, self.queue, cfg)
        self.dead = dead
        self.mapper = PayloadMapper(0)
        self.ch, self.blob, self.cfg, self.batch_messages = ch, blob, cfg, batch_messages
        self.worker = self.new_worker()
        self.sent = 0
        self.task: asyncio.Task[None] | None = None

    def new_worker(self) -> IngestWorker:
        return IngestWorker(
            ch=self.ch,
            blob=self.blob,
            queue=self.queue,
            processor=RowProcessor(self.ch, mapper=self.mapper),
            dead_letters=self.dead,
            cfg=self.cfg,
            batch_messages=self.batch_messages,
        )

    async def send(self) -> None:
        self.sent += 1
        body = make_request([make_span(sid=self.sent, name=f"span-{self.sent}")]).SerializeToString()
        await self.intake.submit(self.project, "otel", "pb", body)

    def start(self) -> None:
        self.task = asyncio.create_task(self.worker.run())

    async def processed(self, payloads: int) -> None:
        async with asyncio.timeout(20):
            while self.worker.stats.payloads < payloads:
                await asyncio.sleep(0.01)

    async def close(self) -> None:
        if self.task is not None:
            # The worker may sit in a long queue read; it holds nothing unacknowledged there.
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.queue.close()
        self.mapper.close()
        assert await self.dead.list(project_id=self.project) == []


async def test_payloads_arriving_within_the_wait_share_one_batch(
    ch: ClickHouse, events_blob: BlobStore, dead_letters: DeadLetters
) -> None:
    p = _Pipeline(ch, events_blob, dead_letters, CollectorConfig(batch_max_wait_ms=2000), batch_messages=32)
    try:
        await p.send()
        p.start()
        await asyncio.sleep(0.2)  # the worker holds the first payload, gathering
        await p.send()
        await p.processed(2)
        assert (p.worker.stats.batches, p.worker.stats.payloads) == (1, 2)
        # Later than the wait after that batch's first payload: a batch of its own.
        await p.send()
        await p.processed(3)
        assert (p.worker.stats.batches, p.worker.stats.payloads) == (2, 3)
    finally:
        await p.close()


async def test_a_full_batch_does_not_wait(ch: ClickHouse, events_blob: BlobStore, dead_letters: DeadLetters) -> None:
    # A wait far longer than the test's timeout: only a full batch can be processed in time.
    p = _Pipeline(ch, events_blob, dead_letters, CollectorConfig(batch_max_wait_ms=600_000), batch_messages=2)
    try:
        for _ in range(4):
            await p.send()
        p.start()
        await p.processed(4)
        assert p.worker.stats.batches == 2
    finally:
        await p.close()


async def test_a_stop_is_noticed_quickly_whatever_the_wait(
    ch: ClickHouse, events_blob: BlobStore, dead_letters: DeadLetters
) -> None:
    """Idle, or holding a payload while it gathers, a worker with a ten-minute wait stops within
    a second, and the payload it held is processed on the way out."""
    p = _Pipeline(ch, events_blob, dead_letters, CollectorConfig(batch_max_wait_ms=600_000), batch_messages=32)
    try:
        p.start()
        await asyncio.sleep(0.3)
        p.worker.stop()
        assert p.task is not None
        async with asyncio.timeout(1.5):
            await p.task
        await p.send()
        p.task = None
        p.worker = p.new_worker()
        p.start()
        await asyncio.sleep(0.5)  # the worker holds the payload, gathering for ten minutes
        assert p.worker.stats.payloads == 0
        p.worker.stop()
        async with asyncio.timeout(5):
            await p.task
        assert p.worker.stats.payloads == 1
    finally:
        await p.close()
