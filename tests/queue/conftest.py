"""Queue contract fixtures: every test here that takes `make_queue` runs on both backends.

The engine fixtures (`redis_url`, ...) come from tests/conftest.py (tests.engines.fixtures).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from spyglass.store.config import RedisConfig
from spyglass.store.queue import MemoryQueue, Queue, RedisStreamQueue
from tests.queue.queue_support import MakeQueue


@pytest.fixture(params=["memory", "redis"])
async def make_queue(request: pytest.FixtureRequest) -> AsyncIterator[MakeQueue]:
    """`await make_queue(visibility_timeout=..., consumer=...)`: queues of one test share one name.

    Memory queues are one shared object per test (consumers of the same process); each Redis
    call opens another client with its own consumer name, like another process would.
    """
    made: list[Queue] = []
    prefix = f"test-{secrets.token_hex(4)}"
    memory: dict[float, MemoryQueue] = {}

    async def make(*, visibility_timeout: float = 30.0, consumer: str | None = None) -> Queue:
        queue: Queue
        if request.param == "memory":
            if visibility_timeout not in memory:
                memory[visibility_timeout] = MemoryQueue("work", visibility_timeout=visibility_timeout)
            queue = memory[visibility_timeout]
        else:
            url: str = request.getfixturevalue("redis_url")
            cfg = RedisConfig(url=url, key_prefix=prefix)
            queue = RedisStreamQueue(cfg, "work", visibility_timeout=visibility_timeout, consumer=consumer)
        made.append(queue)
        return queue

    make.backend = request.param  # type: ignore[attr-defined]
    yield make
    for queue in made:
        await queue.close()
