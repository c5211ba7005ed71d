"""Shared fixtures: real engines started on loopback for the session, stopped afterwards.

chDB allows one engine directory per process, so the whole test session shares one embedded
ClickHouse (`ch`); tests isolate themselves with their own project ids.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.migrate import migrate
from spyglass.store.config import ClickHouseConfig
from tests.harness import Harness
from tests.engines.fixtures import redis_server, redis_url, s3_bucket, s3_server  # noqa: F401

os.environ.setdefault("SPYGLASS_TESTING", "1")


@pytest.fixture(scope="session")
def session_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="spyglass-test-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def ch_url(session_dir: Path) -> str:
    return f"chdb://{session_dir / 'clickhouse'}"


@pytest.fixture(scope="session")
async def ch(ch_url: str) -> AsyncIterator[ClickHouse]:
    client = ClickHouse(ClickHouseConfig(url=ch_url, max_memory_bytes=3_000_000_000))
    await client.open()
    await migrate(client)
    yield client
    await client.close()


@pytest.fixture(scope="session")
async def spyglass(session_dir: Path, ch_url: str, ch: ClickHouse) -> AsyncIterator[Harness]:
    """A running Spyglass (API + collector + worker) for the session; see tests/harness.py."""
    harness = Harness.configure(session_dir / "spyglass", ch_url)
    await harness.start()
    yield harness
    await harness.stop()
