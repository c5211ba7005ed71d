"""Redis Streams specifics: crashed consumers, key layout, recovery, errors."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from spyglass.store.config import RedisConfig
from spyglass.store.errors import RetryableError
from spyglass.store.queue import MemoryQueue, RedisStreamQueue, open_queue
from spyglass.store.queue.redis_stream import GROUP
from tests.engines import free_port


@pytest.fixture
def cfg(redis_url: str) -> RedisConfig:
    return RedisConfig(url=redis_url, key_prefix=f"test-{secrets.token_hex(4)}")


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_dead_consumers_messages_are_reclaimed_with_their_count(cfg: RedisConfig) -> None:
    crashed = RedisStreamQueue(cfg, "jobs", visibility_timeout=0.3, consumer="crashed")
    await crashed.put_many([b"a", b"b", b"c"])
    taken = await crashed.get_batch(10, 1.0)
    assert [m.attempts for m in taken] == [1, 1, 1]
    await crashed.close()  # dies with its messages un-acked

    survivor = RedisStreamQueue(cfg, "jobs", visibility_timeout=0.3, consumer="survivor")
    try:
        assert await survivor.get_batch(10, 0.05) == []  # not idle long enough yet
        reclaimed = await survivor.get_batch(10, 2.0)
        assert [(m.id, m.body, m.attempts) for m in reclaimed] == [(m.id, m.body, 2) for m in taken]
        await survivor.ack([m.id for m in reclaimed])
        assert await survivor.backlog() == 0
    finally:
        await survivor.close()


async def test_attempts_add_up_across_retry_and_reclaim(cfg: RedisConfig) -> None:
    first = RedisStreamQueue(cfg, "jobs", visibility_timeout=0.3, consumer="first")
    second = RedisStreamQueue(cfg, "jobs", visibility_timeout=0.3, consumer="second")
    try:
        await first.put(b"x")
        [m1] = await first.get_batch(1, 1.0)
        await first.retry(m1, 0)
        [m2] = await first.get_batch(1, 1.0)
        assert (m2.attempts, m2.id != m1.id) == (2, True)  # a retried message gets a new id
        # `first` hangs: `second` takes it over after the visibility timeout.
        [m3] = await second.get_batch(1, 2.0)
        assert (m3.id, m3.attempts) == (m2.id, 3)
        await second.ack([m3.id])
    finally:
        await first.close()
        await second.close()


async def test_keys_live_under_the_prefix(cfg: RedisConfig, raw: aioredis.Redis) -> None:
    queue = RedisStreamQueue(cfg, "jobs")
    try:
        await queue.put(b"x")
        [message] = await queue.get_batch(1, 1.0)
        await queue.retry(message, 60)
        keys = sorted(str(k, "utf-8") if isinstance(k, bytes) else k for k in await raw.keys(f"{cfg.key_prefix}:*"))
        assert keys == [f"{cfg.key_prefix}:queue:{{jobs}}:delayed", f"{cfg.key_prefix}:queue:{{jobs}}:stream"]
        # Acked and retried entries are deleted from the stream, not just acknowledged.
        assert await raw.xlen(queue.stream_key) == 0
        assert await raw.zcard(queue.delayed_key) == 1
    finally:
        await queue.close()


async def test_idle_consumer_is_removed_on_close_busy_one_kept(cfg: RedisConfig, raw: aioredis.Redis) -> None:
    busy = RedisStreamQueue(cfg, "jobs", consumer="busy")
    idle = RedisStreamQueue(cfg, "jobs", consumer="idle")
    await busy.put(b"x")
    assert len(await busy.get_batch(1, 1.0)) == 1
    assert await idle.get_batch(1, 0.05) == []
    await idle.close()
    await busy.close()
    names = {bytes(c["name"]).decode() for c in await raw.xinfo_consumers(busy.stream_key, GROUP)}
    # Pending entries keep their consumer, so that others can XAUTOCLAIM them.
    assert names == {"busy"}


async def test_recovers_when_the_stream_is_deleted(cfg: RedisConfig, raw: aioredis.Redis) -> None:
    queue = RedisStreamQueue(cfg, "jobs")
    try:
        await queue.put(b"before")
        assert len(await queue.get_batch(1, 1.0)) == 1
        await raw.delete(queue.stream_key)  # e.g. an operator's FLUSHDB
        assert await queue.get_batch(1, 0.05) == []
        await queue.put(b"after")
        assert [m.body for m in await queue.get_batch(1, 1.0)] == [b"after"]
    finally:
        await queue.close()


async def test_unreachable_redis_is_retryable_and_fast() -> None:
    queue = RedisStreamQueue(RedisConfig(url=f"redis://127.0.0.1:{free_port()}/0"), "jobs")
    try:
        started = time.monotonic()
        with pytest.raises(RetryableError):
            await queue.put(b"x")
        with pytest.raises(RetryableError):
            await queue.get_batch(1, 0.1)
        assert time.monotonic() - started < 3.0
    finally:
        await queue.close()


async def test_factory(cfg: RedisConfig) -> None:
    memory = open_queue(None, "jobs")
    assert isinstance(memory, MemoryQueue)
    assert isinstance(open_queue(RedisConfig(), "jobs"), MemoryQueue)
    queue = open_queue(cfg, "jobs", visibility_timeout=5)
    assert isinstance(queue, RedisStreamQueue)
    await queue.close()
    await memory.close()


def test_queue_names_cannot_break_the_key_layout(cfg: RedisConfig) -> None:
    for bad in ("", "a:b", "a}b", "a b"):
        with pytest.raises(ValueError):
            RedisStreamQueue(cfg, bad)
