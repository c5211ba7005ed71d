"""Dead letters: payloads the ingestion worker could never process, with their reason.

The raw payload stays in the events blob store under `blob_key`, so a dead letter can be
inspected and replayed (`spyglass replay --key`) once the cause is fixed.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from spyglass.store.postgres.faults import db_errors
from spyglass.store.postgres.ids import new_id


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    project_id: str | None
    source: str
    blob_key: str | None
    reason: str
    attempts: int
    created_at: datetime


class DeadLetters:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, *, project_id: str | None, source: str, blob_key: str, reason: str, attempts: int) -> None:
        with db_errors():
            await self._pool.execute(
                "INSERT INTO dead_letters (id, project_id, source, blob_key, reason, attempts) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                new_id(),
                project_id,
                source,
                blob_key or None,
                reason,
                attempts,
            )

    async def list(self, *, project_id: str | None = None, limit: int = 100) -> list[DeadLetter]:
        with db_errors():
            rows = await self._pool.fetch(
                "SELECT id, project_id, source, blob_key, reason, attempts, created_at FROM dead_letters "
                "WHERE ($1::text IS NULL OR project_id = $1) ORDER BY created_at DESC LIMIT $2",
                project_id,
                limit,
            )
        return [DeadLetter(**dict(r)) for r in rows]

    async def blob_keys(self, project_id: str, first_key: str, last_key: str) -> set[str]:
        """Keys of the project's dead letters between two raw-log keys (inclusive)."""
        with db_errors():
            rows = await self._pool.fetch(
                "SELECT blob_key FROM dead_letters WHERE project_id = $1 AND blob_key BETWEEN $2 AND $3",
                project_id,
                first_key,
                last_key,
            )
        return {r["blob_key"] for r in rows}

    async def count(self) -> int:
        with db_errors():
            return int(await self._pool.fetchval("SELECT count(*) FROM dead_letters"))
