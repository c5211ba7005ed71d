"""The worker's pipeline: mapping of batch N+1 overlaps batch N's insert, while merging,
committing and acknowledging stay in order; and OTel rows encoded by the mapping processes
still merge with legacy updates of the same batch."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec

from spyglass.collector.config import CollectorConfig
from spyglass.collector.rawlog import RawRef, encode_ref
from spyglass.collector.worker.consumer import Done, IngestWorker, Payload, Prepared
from spyglass.collector.worker.map_pool import PayloadMapper
from spyglass.collector.worker.merge import RowProcessor, decode_events, encode_events
from spyglass.collector.worker.state import read_latest
from spyglass.query.reads import observations as observation_reads
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.rows import ObservationRow
from spyglass.store.queue import MemoryQueue
from spyglass.store.queue.base import Message
from tests.otel.otlp_builders import TRACE, make_request, make_span


class _Blob:
    async def get(self, key: str) -> bytes:
        return key.encode()


class _Ch:
    def __init__(self, log: list[tuple[str, int]]) -> None:
        self.log = log

    async def insert_json(self, table: str, data: bytes, settings: Any = None) -> None:
        if table == "ingest_log":
            await asyncio.sleep(0.05)  # a slow commit, so the next batch has time to start
            self.log.append(("commit", int(data.split(b'"blob_key":"')[1].split(b'"')[0])))


class _Dead:
    async def record(self, **_: Any) -> None:
        raise AssertionError("nothing should be dead-lettered")


class _Processor:
    def __init__(self, log: list[tuple[str, int]]) -> None:
        self.log = log
        self.committed_batches: list[int] = []
        # Ordering violations seen inside the worker (an assert there would only be logged).
        self.violations: list[tuple[int, list[int]]] = []

    async def start(self, payloads: list[Payload]) -> int:
        n = int(payloads[0].ref.key)
        self.log.append(("start", n))
        return n

    async def finish(self, started: int) -> Prepared:
        # Merging batch N must see every earlier batch committed (and cached).
        if self.committed_batches != list(range(started)):
            self.violations.append((started, list(self.committed_batches)))
        self.log.append(("finish", started))
        return Prepared(done=[], failed=[])

    def committed(self, prepared: Prepared) -> None:
        self.committed_batches.append(int(prepared.done[0].payload.ref.key))

    async def release(self, prepared: Prepared) -> None:
        return None


async def test_batches_overlap_but_merge_and_commit_in_order() -> None:
    log: list[tuple[str, int]] = []
    queue = MemoryQueue("pipeline")
    processor = _Processor(log)
    worker = IngestWorker(
        ch=_Ch(log),  # type: ignore[arg-type]
        blob=_Blob(),  # type: ignore[arg-type]
        queue=queue,
        processor=processor,
        dead_letters=_Dead(),
        cfg=CollectorConfig(batch_max_wait_ms=10),
        batch_messages=1,
    )

    original_finish = processor.finish

    async def finish(started: int) -> Prepared:
        prepared = await original_finish(started)
        ref = RawRef(str(started), "p", "otel", "pb", 1)
        prepared.done = [Done(Payload(ref, b"", Message(id=f"m{started}", body=b"", attempts=1)), 1, 0)]
        return prepared

    processor.finish = finish  # type: ignore[method-assign]
    for i in range(5):
        await queue.put(encode_ref(RawRef(str(i), "p", "otel", "pb", i)))
    task = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(10):
            while len(processor.committed_batches) < 5:
                await asyncio.sleep(0.01)
    finally:
        worker.stop()
        await task
    assert processor.violations == []
    assert processor.committed_batches == list(range(5))
    assert [n for kind, n in log if kind == "finish"] == list(range(5))
    assert [n for kind, n in log if kind == "commit"] == list(range(5))
    # Overlap: batch N+1 was started before batch N was committed.
    assert any(log.index(("start", n + 1)) < log.index(("commit", n)) for n in range(4))


async def test_legacy_update_merges_into_an_otel_row_of_the_same_batch(ch: ClickHouse) -> None:
    project = f"pipeline-{uuid.uuid4().hex[:8]}"
    processor = RowProcessor(ch, mapper=PayloadMapper(0))
    otel = make_request([make_span(sid=7, name="otel-name", attrs={"langfuse.observation.input": "from-otel"})])
    legacy = msgspec.json.encode(
        [
            {
                "id": "e1",
                "type": "span-update",
                "timestamp": "2026-09-21T14:13:25.000Z",
                "body": {"id": "0000000000000007", "traceId": TRACE, "output": "from-legacy"},
            }
        ]
    )
    payloads = [
        Payload(RawRef("a", project, "otel", "pb", 1_790_000_100_000_000), otel.SerializeToString(), _msg("a")),
        Payload(
            RawRef("b", project, "ingestion", "json", 1_790_000_101_000_000),
            encode_events(decode_events(legacy)),
            _msg("b"),
        ),
    ]
    prepared = await processor.prepare(payloads)
    assert [r.id for r in prepared.observations] == ["0000000000000007"]
    assert prepared.encoded and prepared.encoded[0].count == 1
    worker = _inserting_worker(ch, processor)
    await worker._insert(prepared)
    processor.committed(prepared)
    (row,) = await read_latest(ch, ObservationRow, project, ["0000000000000007"])
    assert (row.name, row.input, row.output) == ("otel-name", "from-otel", "from-legacy")
    # The newest version is the legacy merge, and the cache holds it (not a stale one).
    assert processor.observations.get(project, "0000000000000007") == prepared.observations[0]


def _inserting_worker(ch: ClickHouse, processor: RowProcessor) -> IngestWorker:
    """A worker whose `_insert` writes to `ch` (its queue and blob store are never used)."""
    return IngestWorker(
        ch=ch,
        blob=_Blob(),  # type: ignore[arg-type]
        queue=MemoryQueue("unused"),
        processor=processor,
        dead_letters=_Dead(),
        cfg=CollectorConfig(),
    )


def _msg(key: str) -> Message:
    return Message(id=key, body=b"", attempts=1)


async def test_a_retry_in_the_same_batch_is_one_observation_to_every_read(ch: ClickHouse) -> None:
    """A client retry (the same export accepted twice) can land in one worker batch, so one
    insert holds two versions of a span. Inserts skip ClickHouse's collapse-on-insert (it only
    cost time), so both versions are stored until a merge; every read resolves them to one."""
    project = f"pipeline-{uuid.uuid4().hex[:8]}"
    processor = RowProcessor(ch, mapper=PayloadMapper(0))
    body = make_request([make_span(sid=9, name="retried", attrs={"langfuse.observation.input": "x"})])
    payloads = [
        Payload(RawRef(key, project, "otel", "pb", received), body.SerializeToString(), _msg(key))
        for key, received in (("first", 1_790_000_100_000_000), ("retry", 1_790_000_102_000_000))
    ]
    prepared = await processor.prepare(payloads)
    # A background merge with other tests' parts would collapse the two versions before the
    # count below sees them.
    await ch.command("SYSTEM STOP MERGES observations")
    try:
        await _inserting_worker(ch, processor)._insert(prepared)
        stored = await ch.scalar("SELECT count() FROM observations WHERE project_id = {p:String}", {"p": project})
    finally:
        await ch.command("SYSTEM START MERGES observations")
    assert stored == 2  # both versions in the one part: nothing collapsed them on insert
    trace_rows = await observation_reads.for_trace(ch, project, TRACE)
    assert [(r["id"], r["name"]) for r in trace_rows] == [("0000000000000009", "retried")]
    one = await observation_reads.get_one(ch, project, "0000000000000009")
    assert one is not None and one["name"] == "retried"
    assert len(await read_latest(ch, ObservationRow, project, ["0000000000000009"])) == 1
