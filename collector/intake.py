"""The accept path shared by every receiver: check capacity, persist raw, enqueue, answer.

A client is answered with success only after `submit` (or `Staged.commit`) returns, i.e. after
the raw payload is durable in the blob store and its reference is on the queue. Everything
after that (decode, map, merge, insert) is the worker's, and is retried until it lands or is
dead-lettered.

`stage` starts persisting a body before the receiver has finished checking it: the write and
its fsync (a few ms, tens under disk contention) then overlap the check (inflating and parsing,
a few ms of CPU) instead of following it. A body the check rejects is deleted again, in the
background. A crash in that window can leave a rejected body in the raw log, unqueued; crash
recovery re-queues it and the worker, which applies the same checks, dead-letters or skips it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from spyglass.collector.budget import ByteBudget, Overloaded
from spyglass.collector.config import CollectorConfig
from spyglass.collector.rawlog import Encoding, Fmt, RawRef, Source, encode_ref, make_ref
from spyglass.store.blob import BlobStore
from spyglass.store.queue import Queue

log = logging.getLogger("spyglass.collector.intake")

_CONTENT_TYPES = {"pb": "application/x-protobuf", "json": "application/json"}


class Intake:
    def __init__(self, blob: BlobStore, queue: Queue, cfg: CollectorConfig) -> None:
        self._blob = blob
        self._queue = queue
        self._cfg = cfg
        self._backlog = 0
        self._backlog_at = 0.0
        self._lock = asyncio.Lock()
        self._discards: set[asyncio.Task[None]] = set()
        self.accepted_payloads = 0
        # The bytes of request bodies being received and inflated, shared by every receiver.
        self.budget = ByteBudget(cfg.max_body_bytes_in_flight, cfg.retry_after_seconds)

    async def check_capacity(self) -> None:
        """Raise Overloaded before reading a body when the backlog is past its bound."""
        now = time.monotonic()
        # Asking the queue on every request would cost a round trip (Redis); a 100 ms view is
        # fresh enough to stop memory from running away.
        if now - self._backlog_at > 0.1:
            async with self._lock:
                if now - self._backlog_at > 0.1:
                    self._backlog = await self._queue.backlog()
                    self._backlog_at = time.monotonic()
        if self._backlog >= self._cfg.max_backlog:
            raise Overloaded(self._cfg.retry_after_seconds)

    async def submit(
        self, project_id: str, source: Source, fmt: Fmt, body: bytes, encoding: Encoding = "identity"
    ) -> RawRef:
        """Persist `body` (in `encoding`, e.g. gzip as the client sent it) and queue its reference."""
        with await self.stage(project_id, source, fmt, body, encoding) as staged:
            return await staged.commit()

    async def stage(
        self, project_id: str, source: Source, fmt: Fmt, body: bytes, encoding: Encoding = "identity"
    ) -> Staged:
        """Start persisting `body` now; `commit` the result to accept it. Leaving the `with`
        block without committing deletes whatever was written."""
        ref = make_ref(project_id, source, fmt, encoding=encoding)
        content_type = _CONTENT_TYPES[fmt] if encoding == "identity" else "application/gzip"
        staged = Staged(self, ref, asyncio.ensure_future(self._blob.put(ref.key, body, content_type=content_type)))
        try:
            # One turn of the loop hands the write to its thread before the caller's check,
            # CPU-bound and holding the GIL for milliseconds, starts in another.
            await asyncio.sleep(0)
        except BaseException:
            staged.__exit__()
            raise
        return staged

    async def _enqueue(self, ref: RawRef) -> None:
        await self._queue.put(encode_ref(ref))
        self._backlog += 1
        self.accepted_payloads += 1

    def _discard(self, ref: RawRef, put: asyncio.Future[None]) -> None:
        task = asyncio.ensure_future(self._delete_after(ref, put))
        self._discards.add(task)
        task.add_done_callback(self._discards.discard)

    async def _delete_after(self, ref: RawRef, put: asyncio.Future[None]) -> None:
        try:
            await put
        except Exception:
            return  # nothing was written (or the receiver already reported the failure)
        try:
            await self._blob.delete(ref.key)
        except Exception as exc:
            log.warning("could not delete the rejected payload %s: %s", ref.key, exc)

    async def drain(self) -> None:
        """Wait for the deletes of rejected payloads (at shutdown, before the stores close)."""
        while self._discards:
            await asyncio.gather(*self._discards, return_exceptions=True)


class Staged:
    """A payload whose raw-log write is under way (see `Intake.stage`)."""

    def __init__(self, intake: Intake, ref: RawRef, put: asyncio.Future[None]) -> None:
        self.ref = ref
        self._intake = intake
        self._put = put
        self._enqueuing = False

    async def commit(self) -> RawRef:
        """Wait until the payload is durable, then queue it: the client may now be told."""
        # Shielded so that cancelling the request does not cancel the write half-way; the
        # `with` block's exit then waits for the write and deletes what it wrote.
        await asyncio.shield(self._put)
        # From here on the payload is kept even if queueing fails: the reference may have
        # reached the queue (a Redis reply lost on the way back), and its payload must be there.
        self._enqueuing = True
        await self._intake._enqueue(self.ref)
        return self.ref

    def __enter__(self) -> Staged:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._enqueuing:
            self._intake._discard(self.ref, self._put)
