"""Pick the queue backend from the configuration."""

from __future__ import annotations

from spyglass.store.config import RedisConfig

from .base import DEFAULT_VISIBILITY_TIMEOUT, Queue
from .memory import MemoryQueue
from .redis_stream import RedisStreamQueue


def open_queue(
    redis_cfg: RedisConfig | None,
    name: str,
    *,
    visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
    consumer: str | None = None,
) -> Queue:
    """A Redis Streams queue when Redis is configured (cfg with a url), else an in-process queue."""
    if redis_cfg is None or redis_cfg.url is None:
        return MemoryQueue(name, visibility_timeout=visibility_timeout)
    return RedisStreamQueue(redis_cfg, name, visibility_timeout=visibility_timeout, consumer=consumer)
