"""Opening the pool: fast, one-line, password-free failures; a real health check."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from spyglass.store.errors import RetryableError, StartupError
from spyglass.store.postgres.embedded import EmbeddedPostgres, dsn_for_socket
from spyglass.store.postgres.pool import create_pool, ping


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_refused_url_fails_fast_with_the_password_masked() -> None:
    url = f"postgresql://spy:hunter2-secret@127.0.0.1:{_free_port()}/spyglass"
    began = time.monotonic()
    with pytest.raises(StartupError) as err:
        await create_pool(url, connect_timeout=2.0)
    elapsed = time.monotonic() - began
    message = str(err.value)
    assert elapsed < 2.0
    assert err.value.component == "postgres"
    assert "hunter2-secret" not in message
    assert "spy:***@127.0.0.1" in message
    assert "cannot connect" in message
    assert "\n" not in message


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A loopback listener that accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield port
    for w in held:
        w.close()
    server.close()
    await server.wait_closed()


async def test_unresponsive_server_times_out_instead_of_hanging(silent_server: int) -> None:
    url = f"postgresql://spy:hunter2@127.0.0.1:{silent_server}/spyglass"
    began = time.monotonic()
    with pytest.raises(StartupError) as err:
        await create_pool(url, connect_timeout=0.5)
    assert time.monotonic() - began < 2.5
    assert "hunter2" not in str(err.value)
    assert "cannot connect" in str(err.value)


async def test_missing_database_is_a_startup_error(pg_server: EmbeddedPostgres) -> None:
    url = dsn_for_socket(pg_server.socket_dir, database="no_such_db")
    with pytest.raises(StartupError) as err:
        await create_pool(url, connect_timeout=2.0)
    assert "no_such_db" in str(err.value)


async def test_ping_runs_a_query(pg_pool: asyncpg.Pool) -> None:
    latency = await ping(pg_pool)
    assert 0 < latency < 1.0


async def test_ping_on_a_closed_pool_is_retryable(fresh_dsn: str) -> None:
    pool = await create_pool(fresh_dsn, max_size=1)
    await pool.close()
    with pytest.raises(RetryableError):
        await ping(pool)


async def test_json_columns_round_trip_python_values(pg_pool: asyncpg.Pool) -> None:
    value = {"b": [1, 2.5, None], "a": {"nested": "ü"}}
    assert await pg_pool.fetchval("SELECT $1::jsonb", value) == value
    # json keeps the text as written, so key order survives.
    assert list((await pg_pool.fetchval("SELECT $1::json", value)).keys()) == ["b", "a"]
