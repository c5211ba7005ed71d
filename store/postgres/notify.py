"""Change notifications between processes through PostgreSQL LISTEN/NOTIFY.

Every Spyglass process already shares the PostgreSQL, so it is the one channel that reaches
the in-process worker of `serve` and every scale-out worker alike. Notifications are sent on
commit and carry a short payload (a project id, or the days a worker wrote: `encode_written`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping

import asyncpg
import msgspec

from spyglass.store.postgres.faults import db_errors
from spyglass.store.postgres.pool import Conn

log = logging.getLogger(__name__)

ROWS_DELETED = "spyglass_rows_deleted"
# A worker committed rows: which (table, project, UTC days) they fall on.
ROWS_WRITTEN = "spyglass_rows_written"

# PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more.
_MAX_PAYLOAD = 7000
# Past this many days in one notice, say "any day" instead (a replay of months of data).
_MAX_DAYS = 400

Written = tuple[str, str, list[int] | None]  # table, project id, days since the epoch (None: all)
_written = msgspec.json.Decoder(list[Written])


def encode_written(written: Mapping[tuple[str, str], Iterable[int]]) -> list[str]:
    """Payloads for ROWS_WRITTEN, each under PostgreSQL's limit: `[[table, project, [day, ...]], ...]`."""
    payloads: list[str] = []
    chunk: list[Written] = []
    size = 2
    for (table, project), days in written.items():
        listed = sorted(set(days))
        item: Written = (table, project, listed if len(listed) <= _MAX_DAYS else None)
        item_size = len(msgspec.json.encode(item)) + 1
        if chunk and size + item_size > _MAX_PAYLOAD:
            payloads.append(msgspec.json.encode(chunk).decode())
            chunk, size = [], 2
        chunk.append(item)
        size += item_size
    if chunk:
        payloads.append(msgspec.json.encode(chunk).decode())
    return payloads


async def announce_written(pool: asyncpg.Pool, written: Mapping[tuple[str, str], Iterable[int]]) -> None:
    """Tell every listener which days of which tables a commit changed."""
    for payload in encode_written(written):
        await notify(pool, ROWS_WRITTEN, payload)


def decode_written(payload: str) -> list[Written]:
    return _written.decode(payload)


async def notify(pool: asyncpg.Pool | Conn, channel: str, payload: str) -> None:
    """Send `payload` on `channel`; on a connection inside a transaction it is delivered on commit."""
    with db_errors():
        await pool.execute("SELECT pg_notify($1, $2)", channel, payload)


@contextlib.asynccontextmanager
async def listen(pool: asyncpg.Pool, handlers: Mapping[str, Callable[[str], object]]) -> AsyncIterator[Conn]:
    """Call `handlers[channel](payload)` for notifications while the context is open (holds one
    pooled connection). A failing handler is logged and never stops the others."""

    def on_notify(_conn: object, _pid: int, channel: str, payload: object) -> None:
        try:
            # asyncpg passes the payload as a str (its stubs declare `object`).
            handlers[channel](str(payload))
        except Exception:
            log.exception("handler for %s failed (payload %s)", channel, payload)

    async with pool.acquire() as conn:
        for channel in handlers:
            await conn.add_listener(channel, on_notify)
        try:
            yield conn
        finally:
            for channel in handlers:
                with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                    await conn.remove_listener(channel, on_notify)


def _setter(event: asyncio.Event) -> Callable[[object], None]:
    return lambda _conn: event.set()


async def follow(
    pool: asyncpg.Pool,
    handlers: Mapping[str, Callable[[str], object]],
    on_state: Callable[[bool], object],
    retry_seconds: float = 1.0,
) -> None:
    """Listen until cancelled, reconnecting after a lost connection. `on_state(True)` once the
    listeners are in place, `on_state(False)` when the connection is lost: notifications sent
    in between are gone, so a listener that caches must forget what it holds."""
    while True:
        try:
            async with listen(pool, handlers) as conn:
                lost = asyncio.Event()
                conn.add_termination_listener(_setter(lost))
                on_state(True)
                try:
                    await lost.wait()
                finally:
                    on_state(False)
            log.warning("lost the PostgreSQL connection listening to %s; reconnecting", ", ".join(handlers))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("cannot listen to %s: %s; retrying in %.0f s", ", ".join(handlers), exc, retry_seconds)
        await asyncio.sleep(retry_seconds)
