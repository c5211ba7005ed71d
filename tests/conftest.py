"""Shared fixtures: real engines started on loopback for the session, stopped afterwards.

chDB allows one engine directory per process, so the whole test session shares one embedded
ClickHouse (`ch`); tests isolate themselves with their own project ids.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.migrate import migrate
from spyglass.store.config import ClickHouseConfig
from tests.harness import Harness

pytest_plugins = ["tests.engines.fixtures", "tests.no_skips"]

os.environ.setdefault("SPYGLASS_TESTING", "1")
# gRPC core logs an info line whenever a subprocess is forked while its threads run.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")


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


@pytest.fixture(scope="session")
def pg_server_dsn(session_dir: Path) -> Iterator[str]:
    """A PostgreSQL server reached by URL, as a scale-out deployment would (DATABASE_URL)."""
    from spyglass.store.postgres.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(session_dir / "pg-server", durable=False)
    dsn = server.start()
    yield dsn
    server.stop()


@pytest.fixture(scope="session")
async def scaleout(
    session_dir: Path, ch_url: str, ch: ClickHouse, pg_server_dsn: str, redis_url: str, s3_server: Any
) -> AsyncIterator[Harness]:
    """Spyglass wired like a scale-out deployment: Redis Streams queue, S3 (SeaweedFS) raw log
    and media, PostgreSQL by URL. ClickHouse stays chDB: no ClickHouse server runs here, and the
    same SQL goes through the same driver."""
    bucket = s3_server.create_bucket()
    env = {
        "DATABASE_URL": pg_server_dsn,
        "SALT": "scaleout-test-salt",
        "REDIS_CONNECTION_STRING": redis_url,
        "REDIS_KEY_PREFIX": f"t{os.getpid()}",
    }
    for kind in ("EVENT_UPLOAD", "MEDIA_UPLOAD"):
        env.update(
            {
                f"LANGFUSE_S3_{kind}_BUCKET": bucket,
                f"LANGFUSE_S3_{kind}_PREFIX": f"{kind.lower()}/",
                f"LANGFUSE_S3_{kind}_ENDPOINT": s3_server.endpoint,
                f"LANGFUSE_S3_{kind}_REGION": s3_server.region,
                f"LANGFUSE_S3_{kind}_ACCESS_KEY_ID": s3_server.access_key,
                f"LANGFUSE_S3_{kind}_SECRET_ACCESS_KEY": s3_server.secret_key,
                f"LANGFUSE_S3_{kind}_FORCE_PATH_STYLE": "true",
            }
        )
    harness = Harness.configure(session_dir / "scaleout", ch_url, **env)
    await harness.start()
    yield harness
    await harness.stop()


@pytest.fixture(scope="session", params=["embedded", "scaleout"])
def stack(request: pytest.FixtureRequest) -> Harness:
    """The same tests against the embedded default and the scale-out wiring."""
    return request.getfixturevalue("spyglass" if request.param == "embedded" else "scaleout")
