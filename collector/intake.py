"""The accept path shared by every receiver: check capacity, persist raw, enqueue, answer.

A client is answered with success only after `submit` returns, i.e. after the raw payload is
durable in the blob store and its reference is on the queue. Everything after that (decode,
map, merge, insert) is the worker's, and is retried until it lands or is dead-lettered.
"""

from __future__ import annotations

import asyncio
import time

from spyglass.collector.config import CollectorConfig
from spyglass.collector.rawlog import Encoding, Fmt, RawRef, Source, encode_ref, make_ref
from spyglass.store.blob import BlobStore
from spyglass.store.queue import Queue

_CONTENT_TYPES = {"pb": "application/x-protobuf", "json": "application/json"}


class Overloaded(Exception):
    """The backlog is past its bound; the receiver answers 429 / UNAVAILABLE with a retry hint."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"ingestion backlog is full; retry after {retry_after}s")
        self.retry_after = retry_after


class Intake:
    def __init__(self, blob: BlobStore, queue: Queue, cfg: CollectorConfig) -> None:
        self._blob = blob
        self._queue = queue
        self._cfg = cfg
        self._backlog = 0
        self._backlog_at = 0.0
        self._lock = asyncio.Lock()
        self.accepted_payloads = 0

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
        ref = make_ref(project_id, source, fmt, encoding=encoding)
        content_type = _CONTENT_TYPES[fmt] if encoding == "identity" else "application/gzip"
        await self._blob.put(ref.key, body, content_type=content_type)
        await self._queue.put(encode_ref(ref))
        self._backlog += 1
        self.accepted_payloads += 1
        return ref
