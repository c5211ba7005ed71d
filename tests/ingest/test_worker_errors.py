"""The worker's one rule for errors: permanent → dead letter at once; retryable or unknown →
backoff, bounded by max_attempts, then dead letter. Never retried forever, never silently."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from spyglass.collector.config import CollectorConfig
from spyglass.collector.rawlog import RawRef, encode_ref, make_ref
from spyglass.collector.worker.consumer import IngestWorker, Payload, Prepared
from spyglass.store.blob import BlobStore, open_blob_store
from spyglass.store.config import BlobConfig
from spyglass.store.postgres.dead_letters import DeadLetters
from spyglass.store.queue import MemoryQueue
from tests.harness import Harness


class _NothingToMap:
    async def start(self, payloads: list[Payload]) -> None:
        return None

    async def finish(self, started: None) -> Prepared:
        raise AssertionError("no payload should get this far")

    def committed(self, prepared: Prepared) -> None:
        return None

    async def release(self, prepared: Prepared) -> None:
        return None


def _worker(spyglass: Harness, blob: BlobStore, queue: MemoryQueue, dead: DeadLetters) -> IngestWorker:
    return IngestWorker(
        ch=spyglass.stores.ch,
        blob=blob,
        queue=queue,
        processor=_NothingToMap(),
        dead_letters=dead,
        cfg=CollectorConfig(max_attempts=3),
    )


async def test_a_permanent_blob_error_is_a_dead_letter_at_once(
    spyglass: Harness, events_blob: BlobStore, dead_letters: DeadLetters
) -> None:
    project_id = f"perm-{uuid.uuid4().hex[:8]}"
    # A key the local store refuses outright (InvalidBlobKey, a PermanentError).
    ref = RawRef(f"raw/{project_id}/../../outside.otel.pb", project_id, "otel", "pb", 1)
    queue = MemoryQueue("perm")
    await queue.put(encode_ref(ref))
    await _worker(spyglass, events_blob, queue, dead_letters).handle(await queue.get_batch(10, timeout=1))
    assert await queue.backlog() == 0
    (letter,) = await dead_letters.list(project_id=project_id)
    assert letter.attempts == 1 and "cannot be read" in letter.reason


async def test_a_retryable_blob_error_is_retried_a_bounded_number_of_times(
    spyglass: Harness, tmp_path: Path, dead_letters: DeadLetters, caplog: pytest.LogCaptureFixture
) -> None:
    project_id = f"retry-{uuid.uuid4().hex[:8]}"
    blob = open_blob_store(
        BlobConfig(local_dir=str(tmp_path / "raw")), name="events", public_base_url="http://x", signing_secret=b"k" * 20
    )
    await blob.ensure_bucket()
    await blob.close()  # every read now fails with "store is closed", a RetryableError
    queue = MemoryQueue("retry")
    await queue.put(encode_ref(make_ref(project_id, "otel", "pb")))
    worker = _worker(spyglass, blob, queue, dead_letters)
    seen = 0
    with caplog.at_level(logging.WARNING, logger="spyglass.worker"):
        for _ in range(20):
            batch = await queue.get_batch(10, timeout=3)
            if not batch:
                break
            seen += 1
            await worker.handle(batch)
    assert seen == 3, "delivered max_attempts times, then given up"
    assert await queue.backlog() == 0
    (letter,) = await dead_letters.list(project_id=project_id)
    assert letter.attempts == 3 and "gave up after 3 attempts" in letter.reason and "closed" in letter.reason
    assert sum("reading raw payload" in r.getMessage() for r in caplog.records) == 3


class _Buggy(_NothingToMap):
    async def finish(self, started: None) -> Prepared:
        raise RuntimeError("a bug in mapping")


async def test_an_unknown_error_is_retried_boundedly_then_a_dead_letter(
    spyglass: Harness, events_blob: BlobStore, dead_letters: DeadLetters
) -> None:
    project_id = f"bug-{uuid.uuid4().hex[:8]}"
    ref = make_ref(project_id, "ingestion", "json")
    await events_blob.put(ref.key, b"[]")
    queue = MemoryQueue("bug")
    await queue.put(encode_ref(ref))
    worker = IngestWorker(
        ch=spyglass.stores.ch,
        blob=events_blob,
        queue=queue,
        processor=_Buggy(),
        dead_letters=dead_letters,
        cfg=CollectorConfig(max_attempts=2),
    )
    deliveries = 0
    while batch := await queue.get_batch(10, timeout=3):
        deliveries += 1
        await worker.handle(batch)
    assert deliveries == 2
    (letter,) = await dead_letters.list(project_id=project_id)
    assert "gave up after 2 attempts: RuntimeError: a bug in mapping" in letter.reason
