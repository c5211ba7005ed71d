"""The work queue interface: at-least-once delivery of small byte payloads (references to blobs)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

import msgspec

DEFAULT_VISIBILITY_TIMEOUT = 60.0


class Message(msgspec.Struct, frozen=True):
    """One delivery of a message.

    `attempts` counts deliveries including this one (1 on the first), across visibility-timeout
    redeliveries and retry(). `id` is what ack() and retry() take; a backend may give a retried
    message a new id (Redis does), so keep the Message, not the id, when you plan to retry.
    """

    id: str
    body: bytes
    attempts: int


@runtime_checkable
class Queue(Protocol):
    """At-least-once queue. A message delivered by get_batch stays invisible to other consumers
    until it is acked, retried, or its visibility timeout passes; then it is delivered again.
    Errors are RetryableError/PermanentError from spyglass.store.errors.
    """

    name: str

    async def put(self, body: bytes) -> str:
        """Enqueue one message; returns its id once it is stored."""
        ...

    async def put_many(self, bodies: Iterable[bytes]) -> list[str]: ...

    # `timeout` is the long-poll wait (Redis BLOCK), part of the call's meaning, not a cancel scope.
    async def get_batch(self, max_items: int, timeout: float) -> list[Message]:
        """Up to `max_items` messages, waiting up to `timeout` seconds for the first; [] if none."""
        ...

    async def ack(self, ids: Sequence[str]) -> None:
        """Done with these messages: they are never delivered again. Unknown ids are ignored."""
        ...

    async def retry(self, message: Message, delay_seconds: float) -> None:
        """Deliver `message` again after `delay_seconds` (its next delivery has attempts + 1)."""
        ...

    async def backlog(self) -> int:
        """Messages not acked yet: waiting, delayed, or in flight. For backpressure."""
        ...

    async def close(self) -> None: ...
