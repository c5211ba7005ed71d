"""Merge locks in Redis: one key per entity, taken all-or-nothing by a script.

Key: `{key_prefix}:{merge-locks}:{entity key}`; the hash tag puts every lock in one cluster slot
so one script can check and set them all. Value: the lease's random token, so a release only
deletes keys still held by that lease (not ones taken over after the lease expired).
Taking all keys at once or none means two batches never hold halves of each other's keys: no
deadlock, only waiting.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Collection

import redis.asyncio as aioredis

from spyglass.store.config import RedisConfig
from spyglass.store.errors import RetryableError, mask_url
from spyglass.store.queue.redis_errors import redis_errors_mapped
from spyglass.store.queue.redis_stream import connect

from .base import Lease

_ACQUIRE = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
end
return 1
"""

_RELEASE = """
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    n = n + 1
  end
end
return n
"""

# Scripts take their keys as arguments; a few thousand per call keeps each call short.
_CHUNK = 5000


class RedisMergeLocks:
    exclusive = False

    def __init__(self, cfg: RedisConfig) -> None:
        if cfg.url is None:
            raise ValueError("RedisMergeLocks needs cfg.url")
        self.url = mask_url(cfg.url)
        self.component = "merge locks (redis)"
        self._prefix = f"{cfg.key_prefix}:{{merge-locks}}:"
        self._redis: aioredis.Redis = connect(cfg.url)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._release = self._redis.register_script(_RELEASE)

    async def acquire(self, keys: Collection[str], *, ttl: float, wait: float) -> Lease:
        names = tuple(sorted({self._prefix + k for k in keys}))
        token = secrets.token_hex(8)
        # More keys than one script call takes go in sorted chunks: two such batches then
        # contend on their first common chunk instead of deadlocking.
        taken: list[str] = []
        try:
            for start in range(0, len(names), _CHUNK):
                chunk = names[start : start + _CHUNK]
                await self._take(chunk, token, ttl, wait)
                taken.extend(chunk)
        except BaseException:
            await self._drop(tuple(taken), token)
            raise
        return Lease(keys=names, token=token)

    async def release(self, lease: Lease) -> None:
        await self._drop(lease.keys, lease.token)

    async def close(self) -> None:
        await self._redis.aclose()

    async def _take(self, names: tuple[str, ...], token: str, ttl: float, wait: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        pause = 0.005
        ttl_ms = str(max(1, int(ttl * 1000)))
        while True:
            with redis_errors_mapped(self.component, self.url):
                if await self._acquire(keys=list(names), args=[token, ttl_ms]) == 1:
                    return
            if loop.time() >= deadline:
                raise RetryableError(
                    self.component, f"{len(names)} entities are being merged by another worker", self.url
                )
            await asyncio.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, 0.2)

    async def _drop(self, names: tuple[str, ...], token: str) -> None:
        if not names:
            return
        with redis_errors_mapped(self.component, self.url):
            for start in range(0, len(names), _CHUNK):
                await self._release(keys=list(names[start : start + _CHUNK]), args=[token])
