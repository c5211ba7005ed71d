"""Versioned schema migrations: SQL files applied in order, each in its own transaction.

Files are `migrations/NNNN_name.sql`. Applied versions are recorded in `schema_migrations` with
a checksum, so an edited migration is caught instead of silently diverging. A session-level
advisory lock serialises concurrent starters: the second waits, then finds nothing to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import time
from importlib import resources

import asyncpg
import msgspec

from spyglass.store.errors import StartupError
from spyglass.store.postgres.faults import one_line
from spyglass.store.postgres.pool import Conn

_log = logging.getLogger(__name__)

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Arbitrary but fixed: int8 of b"SPYGLASS" (masked positive), shared by every Spyglass process.
MIGRATION_LOCK_KEY = int.from_bytes(b"SPYGLASS", "big") & 0x7FFF_FFFF_FFFF_FFFF

_NO_LIMIT = 86_400.0

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version      integer PRIMARY KEY,
    name         text NOT NULL,
    checksum     text NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    duration_ms  integer NOT NULL
)
"""


class Migration(msgspec.Struct, frozen=True):
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


class MigrationReport(msgspec.Struct, frozen=True, kw_only=True):
    applied: list[str]
    current_version: int
    seconds: float


def load_migrations() -> list[Migration]:
    """The migrations shipped in this package, in version order."""
    folder = resources.files("spyglass.store.postgres") / "migrations"
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        m = _FILE.match(entry.name)
        if not m:
            continue
        version = int(m[1])
        if version in found:
            raise StartupError("postgres", None, f"two migrations with version {version:04d}")
        found[version] = Migration(version, m[2], entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


async def migrate(
    target: asyncpg.Pool | Conn,
    *,
    migrations: list[Migration] | None = None,
    lock_timeout: float = 120.0,
) -> MigrationReport:
    """Apply every migration not yet recorded; safe to call from several processes at once."""
    todo = load_migrations() if migrations is None else migrations
    began = time.perf_counter()
    if isinstance(target, asyncpg.Pool):
        async with target.acquire() as conn:
            return await _migrate(conn, todo, lock_timeout, began)
    return await _migrate(target, todo, lock_timeout, began)


async def _migrate(conn: Conn, todo: list[Migration], lock_timeout: float, began: float) -> MigrationReport:
    # Session lock, not transaction lock: it must span the several per-migration transactions.
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY, timeout=lock_timeout)
    except TimeoutError:
        raise StartupError(
            "postgres", None, f"another process has held the migration lock for over {lock_timeout:.0f}s"
        ) from None
    try:
        await conn.execute(_CREATE_TABLE)
        rows = await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        done = {r["version"]: r for r in rows}
        known = {m.version for m in todo}
        for m in todo:
            row = done.get(m.version)
            if row is not None and row["checksum"] != m.checksum:
                raise StartupError(
                    "postgres",
                    None,
                    f"migration {m.label} was changed after it was applied; "
                    "add a new migration instead of editing an applied one",
                )
        newer = sorted(v for v in done if v not in known)
        if newer:
            # Rolling upgrades run old and new code side by side; migrations are additive, so an
            # older process keeps working against a newer schema.
            _log.warning("postgres: database has migrations this version does not know: %s", newer)
        applied: list[str] = []
        for m in todo:
            if m.version in done:
                continue
            t = time.perf_counter()
            try:
                async with conn.transaction():
                    # The pool's command timeout guards requests; a migration may rewrite a big
                    # table and must not be cancelled halfway, so it gets a day.
                    await conn.execute(m.sql, timeout=_NO_LIMIT)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4)",
                        m.version,
                        m.name,
                        m.checksum,
                        int((time.perf_counter() - t) * 1000),
                    )
            except asyncpg.PostgresError as exc:
                raise StartupError(
                    "postgres", None, f"migration {m.label} failed and was rolled back: {one_line(exc)}"
                ) from exc
            applied.append(m.label)
            _log.info("postgres: applied migration %s in %.3fs", m.label, time.perf_counter() - t)
        current = max([*done, *(m.version for m in todo if m.label in applied)], default=0)
    finally:
        # If the connection broke, the server already dropped its session locks.
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    return MigrationReport(applied=applied, current_version=current, seconds=time.perf_counter() - began)
