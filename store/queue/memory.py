"""In-process queue for the embedded single-process setup.

Messages live only in memory: durability comes from the blob the message points at and the
recovery scan that re-enqueues unfinished blobs at startup. What this queue guarantees is that a
message handed out is never dropped before ack(): un-acked messages come back after the
visibility timeout, and retry() brings them back after their delay.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Iterable, Sequence
from enum import Enum

from spyglass.store.errors import PermanentError

from .base import DEFAULT_VISIBILITY_TIMEOUT, Message


class _State(Enum):
    READY = 1
    IN_FLIGHT = 2
    DELAYED = 3


class _Entry:
    __slots__ = ("attempts", "body", "deadline", "state", "token")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.attempts = 0
        self.state = _State.READY
        self.deadline = 0.0
        # Bumped on every state change so stale heap entries can be recognised and skipped.
        self.token = 0


class MemoryQueue:
    """FIFO delivery; in-flight and delayed messages wait in one deadline heap."""

    def __init__(self, name: str, *, visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT) -> None:
        self.name = name
        self.component = f"queue {name!r} (memory)"
        self.visibility_timeout = visibility_timeout
        self._entries: dict[str, _Entry] = {}
        self._ready: deque[str] = deque()
        # (deadline, token, id): when an in-flight message times out or a delayed one is due.
        self._timers: list[tuple[float, int, str]] = []
        self._ids = itertools.count(1)
        self._tokens = itertools.count(1)
        self._wakeup = asyncio.Event()
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise PermanentError(self.component, "queue is closed")

    def _add(self, body: bytes) -> str:
        message_id = f"{next(self._ids)}"
        self._entries[message_id] = _Entry(bytes(body))
        self._ready.append(message_id)
        return message_id

    async def put(self, body: bytes) -> str:
        self._check_open()
        message_id = self._add(body)
        self._wakeup.set()
        return message_id

    async def put_many(self, bodies: Iterable[bytes]) -> list[str]:
        self._check_open()
        ids = [self._add(body) for body in bodies]
        if ids:
            self._wakeup.set()
        return ids

    def _schedule(self, message_id: str, entry: _Entry, state: _State, deadline: float) -> None:
        entry.state = state
        entry.deadline = deadline
        entry.token = next(self._tokens)
        heapq.heappush(self._timers, (deadline, entry.token, message_id))
        if len(self._timers) > 2 * len(self._entries) + 1024:
            # Acks leave their timers behind (removal is lazy); rebuild before they pile up.
            self._timers = [(e.deadline, e.token, i) for i, e in self._entries.items() if e.state is not _State.READY]
            heapq.heapify(self._timers)

    def _release_due(self, now: float) -> float | None:
        """Make timed-out and due messages ready; return the next deadline, if any."""
        while self._timers:
            deadline, token, message_id = self._timers[0]
            entry = self._entries.get(message_id)
            if entry is None or entry.token != token:
                heapq.heappop(self._timers)  # acked or rescheduled since
                continue
            if deadline > now:
                return deadline
            heapq.heappop(self._timers)
            entry.state = _State.READY
            entry.token = next(self._tokens)
            self._ready.append(message_id)
        return None

    def _take(self, max_items: int, now: float) -> list[Message]:
        batch: list[Message] = []
        while self._ready and len(batch) < max_items:
            message_id = self._ready.popleft()
            entry = self._entries.get(message_id)
            if entry is None or entry.state is not _State.READY:
                continue
            entry.attempts += 1
            self._schedule(message_id, entry, _State.IN_FLIGHT, now + self.visibility_timeout)
            batch.append(Message(id=message_id, body=entry.body, attempts=entry.attempts))
        return batch

    # `timeout` is the long-poll wait (Redis BLOCK), part of the call's meaning, not a cancel scope.
    async def get_batch(self, max_items: int, timeout: float) -> list[Message]:
        if max_items < 1:
            raise ValueError("max_items must be >= 1")
        give_up = time.monotonic() + max(timeout, 0.0)
        while not self._closed:
            now = time.monotonic()
            next_deadline = self._release_due(now)
            batch = self._take(max_items, now)
            if batch:
                return batch
            if now >= give_up:
                return []
            # Sleep until a put/retry/close, the next timer, or the caller's deadline.
            wait = give_up - now if next_deadline is None else min(give_up, next_deadline) - now
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout=wait)
            except TimeoutError:
                pass
        return []

    async def ack(self, ids: Sequence[str]) -> None:
        for message_id in ids:
            # The heap and the ready deque skip ids that are gone, so removal is O(1).
            self._entries.pop(message_id, None)

    async def retry(self, message: Message, delay_seconds: float) -> None:
        self._check_open()
        entry = self._entries.get(message.id)
        if entry is None:
            return  # already acked: nothing to bring back
        if delay_seconds <= 0:
            entry.state = _State.READY
            entry.token = next(self._tokens)
            self._ready.append(message.id)
        else:
            self._schedule(message.id, entry, _State.DELAYED, time.monotonic() + delay_seconds)
        self._wakeup.set()

    async def backlog(self) -> int:
        return len(self._entries)

    async def close(self) -> None:
        self._closed = True
        self._wakeup.set()
