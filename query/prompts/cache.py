"""Read-through cache of served prompts: in-process (embedded default) or Redis (scale-out).

Entries are keyed under a per-project epoch. A reader takes the epoch *before* it reads
PostgreSQL and stores its answer under that epoch; every write bumps the epoch after its commit.
So an answer read before a write can only land under an epoch nobody reads any more, and a read
that starts after a write returns can never see the old value. A whole project is invalidated
at once because a change to one prompt can change every prompt that includes it.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Protocol

import redis.asyncio as aioredis
from redis import exceptions as redis_errors

log = logging.getLogger("spyglass.prompts.cache")

DEFAULT_TTL_SECONDS = 300.0


class PromptCache(Protocol):
    async def epoch(self, project_id: str) -> str: ...
    async def get(self, project_id: str, epoch: str, key: str) -> bytes | None: ...
    async def put(self, project_id: str, epoch: str, key: str, value: bytes) -> None: ...
    async def invalidate(self, project_id: str) -> None: ...
    async def close(self) -> None: ...


class LocalPromptCache:
    """One process's cache; correct only when this process makes every write (embedded mode)."""

    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS, max_entries: int = 10_000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._epochs: dict[str, int] = {}
        self._entries: OrderedDict[tuple[str, str, str], tuple[float, bytes]] = OrderedDict()

    async def epoch(self, project_id: str) -> str:
        return str(self._epochs.get(project_id, 0))

    async def get(self, project_id: str, epoch: str, key: str) -> bytes | None:
        entry = self._entries.get((project_id, epoch, key))
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop((project_id, epoch, key), None)
            return None
        self._entries.move_to_end((project_id, epoch, key))
        return entry[1]

    async def put(self, project_id: str, epoch: str, key: str, value: bytes) -> None:
        if epoch != str(self._epochs.get(project_id, 0)):
            return  # a write happened while this value was being read: it may be stale
        self._entries[(project_id, epoch, key)] = (time.monotonic() + self._ttl, value)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def invalidate(self, project_id: str) -> None:
        self._epochs[project_id] = self._epochs.get(project_id, 0) + 1
        for entry_key in [k for k in self._entries if k[0] == project_id]:
            del self._entries[entry_key]

    async def close(self) -> None:
        self._entries.clear()


class RedisPromptCache:
    """Shared by every process of a scale-out deployment.

    Redis trouble never fails a read (the cache is bypassed). A failed invalidation is logged;
    entries expire after the TTL, which bounds how long such a write can stay unseen.
    """

    def __init__(self, client: aioredis.Redis, prefix: str, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self._redis = client
        self._prefix = prefix
        self._ttl = max(1, int(ttl_seconds))

    def _epoch_key(self, project_id: str) -> str:
        return f"{self._prefix}:prompt-epoch:{project_id}"

    def _entry_key(self, project_id: str, epoch: str, key: str) -> str:
        return f"{self._prefix}:prompt:{project_id}:{epoch}:{key}"

    async def epoch(self, project_id: str) -> str:
        try:
            value = await self._redis.get(self._epoch_key(project_id))
        except redis_errors.RedisError as exc:
            log.warning("prompt cache unavailable, reading through: %s", exc)
            return ""
        return value.decode() if isinstance(value, bytes) else str(value or 0)

    async def get(self, project_id: str, epoch: str, key: str) -> bytes | None:
        if not epoch:
            return None
        try:
            value = await self._redis.get(self._entry_key(project_id, epoch, key))
        except redis_errors.RedisError as exc:
            log.warning("prompt cache unavailable, reading through: %s", exc)
            return None
        # bytes (the client is made without decode_responses); a str only from a decoding client.
        return value.encode() if isinstance(value, str) else value

    async def put(self, project_id: str, epoch: str, key: str, value: bytes) -> None:
        if not epoch:
            return
        try:
            await self._redis.set(self._entry_key(project_id, epoch, key), value, ex=self._ttl)
        except redis_errors.RedisError as exc:
            log.warning("prompt cache unavailable, not storing: %s", exc)

    async def invalidate(self, project_id: str) -> None:
        try:
            # No expiry on the epoch: if it vanished and restarted from 0, a later INCR could
            # revive entries stored under an old epoch value.
            await self._redis.incr(self._epoch_key(project_id))
        except redis_errors.RedisError as exc:
            log.error(
                "prompt cache invalidation failed for project %s (entries expire in %ss): %s",
                project_id,
                self._ttl,
                exc,
            )

    async def close(self) -> None:
        await self._redis.aclose()


def open_prompt_cache(redis_url: str | None, prefix: str, ttl_seconds: float = DEFAULT_TTL_SECONDS) -> PromptCache:
    if not redis_url:
        return LocalPromptCache(ttl_seconds)
    client = aioredis.Redis.from_url(redis_url, socket_connect_timeout=2.0, socket_timeout=2.0)
    return RedisPromptCache(client, prefix, ttl_seconds)
