"""Change notifications between processes through PostgreSQL LISTEN/NOTIFY.

Every Spyglass process already shares the PostgreSQL, so it is the one channel that reaches
the in-process worker of `serve` and every scale-out worker alike. Notifications are sent on
commit and carry a short payload (a project id).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping

import asyncpg

from spyglass.store.postgres.faults import db_errors

log = logging.getLogger(__name__)

ROWS_DELETED = "spyglass_rows_deleted"


async def notify(pool: asyncpg.Pool | asyncpg.Connection, channel: str, payload: str) -> None:
    """Send `payload` on `channel`; on a connection inside a transaction it is delivered on commit."""
    with db_errors():
        await pool.execute("SELECT pg_notify($1, $2)", channel, payload)


@contextlib.asynccontextmanager
async def listen(pool: asyncpg.Pool, handlers: Mapping[str, Callable[[str], object]]) -> AsyncIterator[None]:
    """Call `handlers[channel](payload)` for notifications while the context is open (holds one
    pooled connection). A failing handler is logged and never stops the others."""

    def on_notify(_conn: object, _pid: int, channel: str, payload: str) -> None:
        try:
            handlers[channel](payload)
        except Exception:
            log.exception("handler for %s failed (payload %s)", channel, payload)

    async with pool.acquire() as conn:
        for channel in handlers:
            await conn.add_listener(channel, on_notify)
        try:
            yield
        finally:
            for channel in handlers:
                with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                    await conn.remove_listener(channel, on_notify)
