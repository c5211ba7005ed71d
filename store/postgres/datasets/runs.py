"""The `dataset_runs` table: runs of a dataset by name, and runs by id (experiments, whose id
the SDK chooses; a run without a dataset is an experiment over local data)."""

from __future__ import annotations

from typing import Any

import asyncpg

from spyglass.store.postgres.datasets.rows import DatasetConflict, RunRow
from spyglass.store.postgres.faults import db_errors
from spyglass.store.postgres.ids import new_id
from spyglass.store.postgres.pool import Conn
from spyglass.store.postgres.sql_builder import Args, page

_COLS = (
    "r.id, r.project_id, r.dataset_id, d.name AS dataset_name, r.name, r.description, r.metadata, "
    "r.created_at, r.updated_at"
)
_FROM = "dataset_runs r LEFT JOIN datasets d ON d.id = r.dataset_id AND d.project_id = r.project_id"


def _run(r: asyncpg.Record) -> RunRow:
    return RunRow(**dict(r))


class RunsRepo:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def run_by_name(self, project_id: str, dataset_id: str, name: str) -> RunRow | None:
        with db_errors():
            row = await self._pool.fetchrow(
                f"SELECT {_COLS} FROM {_FROM} WHERE r.project_id = $1 AND r.dataset_id = $2 AND r.name = $3",
                project_id,
                dataset_id,
                name,
            )
        return _run(row) if row else None

    async def list_runs(self, project_id: str, dataset_id: str, *, offset: int, limit: int) -> tuple[list[RunRow], int]:
        rows, total = await page(
            self._pool,
            Args(project_id, dataset_id),
            select=f"SELECT {_COLS} FROM {_FROM}",
            count_from="dataset_runs r",
            where="r.project_id = $1 AND r.dataset_id = $2",
            order_by="r.created_at DESC, r.id",
            offset=offset,
            limit=limit,
        )
        return [_run(r) for r in rows], total

    async def delete_run(self, project_id: str, run_id: str) -> bool:
        with db_errors():
            status = await self._pool.execute(
                "DELETE FROM dataset_runs WHERE project_id = $1 AND id = $2", project_id, run_id
            )
        return status.endswith(" 1")

    async def ensure_named_run(
        self,
        project_id: str,
        *,
        dataset_id: str,
        name: str,
        description: str | None,
        metadata: Any,
        preferred_id: str,
    ) -> RunRow:
        """The dataset's run called `name`, created with `preferred_id` if missing; a given
        description/metadata replaces the stored one (as upstream's upsert does)."""
        sql = f"""
            WITH up AS (
                INSERT INTO dataset_runs AS cur (id, project_id, dataset_id, name, description, metadata)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (dataset_id, project_id, name) DO UPDATE SET
                    description = coalesce(EXCLUDED.description, cur.description),
                    metadata = coalesce(EXCLUDED.metadata, cur.metadata)
                RETURNING *
            )
            SELECT {_COLS} FROM up r
            LEFT JOIN datasets d ON d.id = r.dataset_id AND d.project_id = r.project_id
        """
        with db_errors():
            for run_id in (preferred_id, new_id()):
                try:
                    row = await self._pool.fetchrow(sql, run_id, project_id, dataset_id, name, description, metadata)
                    assert row is not None  # the upsert returns the run it wrote
                    return _run(row)
                except asyncpg.UniqueViolationError:
                    # The preferred (derived) id is taken by a run of another name: use a fresh one.
                    continue
        raise DatasetConflict(f"could not create dataset run '{name}'")


async def upsert_run_by_id(
    conn: Conn,
    project_id: str,
    run_id: str,
    name: str,
    description: str | None,
    metadata: Any,
    dataset_id: str | None,
) -> None:
    """Create the run `run_id` or complete it (a description, metadata or dataset it lacks)."""
    sql = """
        INSERT INTO dataset_runs AS cur (id, project_id, dataset_id, name, description, metadata)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (id, project_id) DO UPDATE SET
            description = coalesce(EXCLUDED.description, cur.description),
            metadata = coalesce(EXCLUDED.metadata, cur.metadata),
            dataset_id = coalesce(cur.dataset_id, EXCLUDED.dataset_id)
    """
    try:
        async with conn.transaction():
            await conn.execute(sql, run_id, project_id, dataset_id, name, description, metadata)
    except asyncpg.UniqueViolationError:
        # Another run of this dataset already has the name (created under a different id): keep
        # both, telling them apart by id, rather than losing this experiment's items.
        await conn.execute(sql, run_id, project_id, dataset_id, f"{name} ({run_id})", description, metadata)
