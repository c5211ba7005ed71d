"""The Queue contract, run against the in-process queue and Redis Streams (see conftest)."""

from __future__ import annotations

import asyncio
import time

import pytest

from spyglass.store.errors import PermanentError
from tests.queue.queue_support import MakeQueue


async def test_delivers_in_put_order(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    ids = [await queue.put(b"first"), *await queue.put_many(f"m{i}".encode() for i in range(99))]
    assert len(set(ids)) == 100
    batch = await queue.get_batch(100, 1.0)
    assert [m.id for m in batch] == ids
    assert [m.body for m in batch] == [b"first", *(f"m{i}".encode() for i in range(99))]
    assert {m.attempts for m in batch} == {1}


async def test_get_batch_respects_max_items_and_timeout(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    started = time.monotonic()
    assert await queue.get_batch(10, 0.3) == []
    assert 0.25 <= time.monotonic() - started < 1.5
    assert await queue.get_batch(10, 0) == []
    await queue.put_many([b"a", b"b", b"c"])
    assert [m.body for m in await queue.get_batch(2, 1.0)] == [b"a", b"b"]
    assert [m.body for m in await queue.get_batch(2, 1.0)] == [b"c"]


async def test_waiting_consumer_wakes_on_put(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    waiting = asyncio.create_task(queue.get_batch(10, 5.0))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await queue.put(b"wake up")
    batch = await asyncio.wait_for(waiting, 3.0)
    assert [m.body for m in batch] == [b"wake up"]
    assert time.monotonic() - started < 1.5


async def test_ack_removes_for_good(make_queue: MakeQueue) -> None:
    queue = await make_queue(visibility_timeout=0.2)
    await queue.put_many([b"a", b"b"])
    batch = await queue.get_batch(10, 1.0)
    await queue.ack([m.id for m in batch])
    await queue.ack([batch[0].id, "0-1"])  # acking twice or an unknown id is harmless
    await asyncio.sleep(0.3)
    assert await queue.get_batch(10, 0.4) == []
    assert await queue.backlog() == 0


async def test_unacked_message_is_redelivered_after_visibility_timeout(make_queue: MakeQueue) -> None:
    queue = await make_queue(visibility_timeout=0.3)
    await queue.put(b"job")
    [first] = await queue.get_batch(10, 1.0)
    assert first.attempts == 1
    # Invisible while its timeout runs...
    assert await queue.get_batch(10, 0.1) == []
    # ...then back, with the delivery counted.
    [again] = await queue.get_batch(10, 2.0)
    assert (again.id, again.body, again.attempts) == (first.id, b"job", 2)
    await queue.ack([again.id])
    assert await queue.backlog() == 0


async def test_retry_honours_delay_and_counts_attempts(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    await queue.put(b"flaky")
    [message] = await queue.get_batch(1, 1.0)
    retried_at = time.monotonic()
    await queue.retry(message, 0.4)
    assert await queue.backlog() == 1
    assert await queue.get_batch(10, 0.1) == []
    [again] = await queue.get_batch(10, 3.0)
    assert time.monotonic() - retried_at >= 0.35
    assert (again.body, again.attempts) == (b"flaky", 2)
    await queue.retry(again, 0)
    [third] = await queue.get_batch(10, 1.0)
    assert (third.body, third.attempts) == (b"flaky", 3)
    await queue.ack([third.id])
    assert await queue.backlog() == 0


async def test_retry_of_an_acked_message_is_a_no_op(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    await queue.put(b"done")
    [message] = await queue.get_batch(1, 1.0)
    await queue.ack([message.id])
    await queue.retry(message, 0)
    await queue.retry(message, 0.1)
    assert await queue.get_batch(1, 0.3) == []
    assert await queue.backlog() == 0


async def test_backlog_counts_everything_not_acked(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    assert await queue.backlog() == 0
    await queue.put_many([b"%d" % i for i in range(5)])
    assert await queue.backlog() == 5
    batch = await queue.get_batch(3, 1.0)
    assert await queue.backlog() == 5  # in flight still counts
    await queue.ack([batch[0].id, batch[1].id])
    assert await queue.backlog() == 3
    await queue.retry(batch[2], 60)
    assert await queue.backlog() == 3  # delayed still counts


async def test_ten_thousand_messages(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    bodies = [b"blob/ref/%06d" % i for i in range(10_000)]
    started = time.monotonic()
    await queue.put_many(bodies)
    seen: list[bytes] = []
    while len(seen) < len(bodies):
        batch = await queue.get_batch(1000, 1.0)
        assert batch, "queue ran dry early"
        seen.extend(m.body for m in batch)
        await queue.ack([m.id for m in batch])
    elapsed = time.monotonic() - started
    assert seen == bodies
    assert await queue.backlog() == 0
    assert elapsed < 10, f"10k messages took {elapsed:.1f}s"


async def test_concurrent_consumers_never_share_a_message(make_queue: MakeQueue) -> None:
    consumers = [await make_queue(consumer="c1"), await make_queue(consumer="c2")]
    total = 2000
    await consumers[0].put_many([b"%d" % i for i in range(total)])
    taken: list[list[bytes]] = [[], []]

    async def consume(index: int) -> None:
        queue = consumers[index]
        idle_polls = 0
        while idle_polls < 3:
            batch = await queue.get_batch(37, 0.1)
            if not batch:
                idle_polls += 1
                continue
            taken[index].extend(m.body for m in batch)
            await asyncio.sleep(0.001)  # let the other consumer in while these are in flight
            await queue.ack([m.id for m in batch])

    await asyncio.gather(consume(0), consume(1))
    assert not set(taken[0]) & set(taken[1])
    assert sorted(taken[0] + taken[1]) == sorted(b"%d" % i for i in range(total))
    assert taken[0] and taken[1], "both consumers should have received work"


async def test_closed_queue(make_queue: MakeQueue) -> None:
    queue = await make_queue()
    await queue.close()
    with pytest.raises(PermanentError):
        await queue.put(b"x")
    assert await queue.get_batch(10, 0.5) == []
