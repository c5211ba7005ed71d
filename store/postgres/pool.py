"""The asyncpg pool: one per process, JSON codecs installed, fast and clear failure."""

from __future__ import annotations

import asyncio
import time
from typing import TypeAlias
from urllib.parse import urlsplit

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from spyglass.store.errors import RetryableError, StartupError, mask_url
from spyglass.store.postgres.faults import COMPONENT, one_line

# Long enough for a loaded server, short enough that a wrong URL fails at startup in seconds.
DEFAULT_CONNECT_TIMEOUT = 5.0

# A connection as `pool.acquire()` hands it out (a proxy) or as `asyncpg.connect()` makes it.
Conn: TypeAlias = "asyncpg.Connection | PoolConnectionProxy"

_encode = msgspec.json.Encoder()
_decode = msgspec.json.decode


def _to_json(value: object) -> str:
    return _encode.encode(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    # json/jsonb columns take and return Python values (dicts, lists, str, numbers) instead of
    # JSON text. Pass objects, not pre-encoded strings: a str is stored as a JSON string.
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, schema="pg_catalog", encoder=_to_json, decoder=_decode, format="text")


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    command_timeout: float | None = 60.0,
) -> asyncpg.Pool:
    """Open a pool and prove it works; StartupError (password masked) if the server is unreachable."""
    began = time.monotonic()
    try:
        pool = await asyncio.wait_for(
            asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                timeout=connect_timeout,
                command_timeout=command_timeout,
                init=_init_connection,
                server_settings={"application_name": "spyglass"},
            ),
            # asyncpg's timeout covers one connection attempt; this bounds the whole startup
            # (several hosts in a URL, several min_size connections).
            timeout=connect_timeout * 2,
        )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
        elapsed = time.monotonic() - began
        reason = _redact(one_line(exc), dsn)
        if isinstance(exc, TimeoutError):
            reason = f"no answer within {elapsed:.1f}s"
        raise StartupError(COMPONENT, dsn, f"cannot connect: {reason}") from None
    assert pool is not None
    return pool


async def ping(pool: asyncpg.Pool, limit: float = 2.0) -> float:
    """Run a real `SELECT 1`; return its round trip in seconds or raise RetryableError."""
    began = time.perf_counter()
    try:
        async with pool.acquire(timeout=limit) as conn:
            value = await conn.fetchval("SELECT 1", timeout=limit)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise RetryableError(COMPONENT, f"ping failed: {one_line(exc)}") from exc
    if value != 1:
        raise RetryableError(COMPONENT, f"ping returned {value!r}")
    return time.perf_counter() - began


def _redact(text: str, dsn: str) -> str:
    """Drop the URL's password from a driver message, should the driver ever echo the URL."""
    try:
        password = urlsplit(dsn).password
    except ValueError:
        password = None
    text = text.replace(dsn, mask_url(dsn))
    return text.replace(password, "***") if password else text
