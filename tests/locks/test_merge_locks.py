"""Merge locks on a real Redis: all-or-nothing, waiting, expiry, and no lost read-merge-writes."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable

import pytest

from spyglass.store.config import RedisConfig
from spyglass.store.errors import RetryableError
from spyglass.store.locks import LocalMergeLocks, RedisMergeLocks, open_merge_locks


@pytest.fixture
async def make_locks(redis_url: str) -> AsyncIterator[Callable[[], RedisMergeLocks]]:
    """Lock clients sharing one key prefix, each with its own connection (like separate workers)."""
    cfg = RedisConfig(url=redis_url, key_prefix=f"t-{secrets.token_hex(4)}")
    made: list[RedisMergeLocks] = []

    def make() -> RedisMergeLocks:
        made.append(RedisMergeLocks(cfg))
        return made[-1]

    yield make
    for locks in made:
        await locks.close()


def test_factory_picks_backend(redis_url: str) -> None:
    assert isinstance(open_merge_locks(RedisConfig()), LocalMergeLocks)
    assert open_merge_locks(RedisConfig()).exclusive
    remote = open_merge_locks(RedisConfig(url=redis_url))
    assert isinstance(remote, RedisMergeLocks) and not remote.exclusive


async def test_held_keys_block_overlapping_sets_entirely(make_locks: Callable[[], RedisMergeLocks]) -> None:
    a, b = make_locks(), make_locks()
    lease = await a.acquire(["p:trace:1", "p:trace:2"], ttl=30, wait=1)
    with pytest.raises(RetryableError, match="being merged by another worker"):
        await b.acquire(["p:trace:2", "p:trace:3"], ttl=30, wait=0.05)
    # All-or-nothing: the failed attempt must not have kept trace:3.
    other = await b.acquire(["p:trace:3"], ttl=30, wait=0.05)
    await b.release(other)
    await a.release(lease)
    again = await b.acquire(["p:trace:2", "p:trace:3"], ttl=30, wait=0.05)
    await b.release(again)


async def test_waiter_gets_keys_when_released(make_locks: Callable[[], RedisMergeLocks]) -> None:
    a, b = make_locks(), make_locks()
    lease = await a.acquire(["k"], ttl=30, wait=1)
    waiter = asyncio.create_task(b.acquire(["k"], ttl=30, wait=5))
    await asyncio.sleep(0.1)
    assert not waiter.done()
    await a.release(lease)
    got = await asyncio.wait_for(waiter, 2)
    assert got.keys and got.token != lease.token
    await b.release(got)


async def test_expired_lease_is_taken_over_and_its_release_spares_the_new_holder(
    make_locks: Callable[[], RedisMergeLocks],
) -> None:
    a, b, c = make_locks(), make_locks(), make_locks()
    stale = await a.acquire(["k"], ttl=0.1, wait=1)
    fresh = await b.acquire(["k"], ttl=30, wait=2)  # waits out the dead holder's lease
    await a.release(stale)  # late release by the old holder
    with pytest.raises(RetryableError):
        await c.acquire(["k"], ttl=30, wait=0.05)
    await b.release(fresh)


async def test_large_key_sets_are_taken_in_chunks(make_locks: Callable[[], RedisMergeLocks]) -> None:
    a, b = make_locks(), make_locks()
    keys = [f"p:trace:{i}" for i in range(12_000)]
    lease = await a.acquire(keys, ttl=30, wait=1)
    assert len(lease.keys) == 12_000
    with pytest.raises(RetryableError):
        await b.acquire(keys[-1:], ttl=30, wait=0.05)
    await a.release(lease)
    await b.release(await b.acquire(keys[-1:], ttl=30, wait=0.05))


async def test_read_merge_write_under_locks_loses_no_update(make_locks: Callable[[], RedisMergeLocks]) -> None:
    """Eight 'workers' each add their own tag to one shared record with a slow read-merge-write."""
    record: set[str] = set()

    async def worker(i: int) -> None:
        locks = make_locks()
        lease = await locks.acquire(["p:trace:shared"], ttl=30, wait=10)
        try:
            current = set(record)
            await asyncio.sleep(0.01)
            record.clear()
            record.update(current | {f"w{i}"})
        finally:
            await locks.release(lease)

    await asyncio.gather(*(worker(i) for i in range(8)))
    assert record == {f"w{i}" for i in range(8)}


async def test_local_locks_are_free() -> None:
    locks = LocalMergeLocks()
    lease = await locks.acquire(["x"], ttl=1, wait=0)
    await locks.acquire(["x"], ttl=1, wait=0)
    await locks.release(lease)
