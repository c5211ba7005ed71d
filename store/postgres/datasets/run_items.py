"""The `dataset_run_items` table: upserted on (run, dataset item, trace), so the REST call, the
ingestion event and the experiment spans of the same execution all land on one row."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from spyglass.store.postgres.datasets.rows import RunItemRow, RunItemWrite
from spyglass.store.postgres.faults import db_errors
from spyglass.store.postgres.ids import new_id
from spyglass.store.postgres.pool import Conn
from spyglass.store.postgres.sql_builder import Args, Where, page

# A run item with its run's name, as RunItemRow reads it (`i` the item, `r` its run).
COLS = (
    "i.id, i.project_id, i.dataset_run_id, r.name AS dataset_run_name, i.dataset_id, i.dataset_item_id, i.trace_id, "
    "i.observation_id, i.dataset_item_version, i.environment, i.start_time, i.end_time, i.expected_output, "
    "i.item_metadata, i.created_at, i.updated_at"
)
FROM = "dataset_run_items i JOIN dataset_runs r ON r.id = i.dataset_run_id AND r.project_id = i.project_id"

_UPSERT = """
    INSERT INTO dataset_run_items AS cur (
        id, project_id, dataset_run_id, dataset_id, dataset_item_id, trace_id, observation_id,
        dataset_item_version, environment, start_time, end_time, expected_output, item_metadata, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, coalesce($14, now()))
    ON CONFLICT (project_id, dataset_run_id, dataset_item_id, trace_id) DO UPDATE SET
        -- First writer wins for identity fields, so replays never move a link.
        observation_id = coalesce(cur.observation_id, EXCLUDED.observation_id),
        dataset_id = coalesce(cur.dataset_id, EXCLUDED.dataset_id),
        dataset_item_version = coalesce(cur.dataset_item_version, EXCLUDED.dataset_item_version),
        environment = CASE WHEN EXCLUDED.environment <> 'default' THEN EXCLUDED.environment ELSE cur.environment END,
        -- least/greatest skip NULLs: the window only ever widens to cover every span seen.
        start_time = least(cur.start_time, EXCLUDED.start_time),
        end_time = greatest(cur.end_time, EXCLUDED.end_time),
        expected_output = coalesce(EXCLUDED.expected_output, cur.expected_output),
        item_metadata = coalesce(EXCLUDED.item_metadata, cur.item_metadata)
    RETURNING id
"""


def run_item_row(r: asyncpg.Record) -> RunItemRow:
    """A RunItemRow from a record selecting `COLS` (other columns are ignored)."""
    return RunItemRow(**{k: r[k] for k in RunItemRow.__struct_fields__})


def _args(project_id: str, w: RunItemWrite) -> tuple[Any, ...]:
    return (
        w.id or new_id(),
        project_id,
        w.dataset_run_id,
        w.dataset_id,
        w.dataset_item_id,
        w.trace_id,
        w.observation_id,
        w.dataset_item_version,
        w.environment,
        w.start_time,
        w.end_time,
        w.expected_output,
        w.item_metadata,
        w.created_at,
    )


async def upsert_run_items(conn: Conn, project_id: str, writes: Sequence[RunItemWrite]) -> None:
    """Upsert many run items on `conn` (inside the caller's transaction)."""
    if writes:
        await conn.executemany(_UPSERT, [_args(project_id, w) for w in writes])


class RunItemsRepo:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def upsert_run_item(self, project_id: str, write: RunItemWrite) -> RunItemRow:
        with db_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                run_item_id = await conn.fetchval(_UPSERT, *_args(project_id, write))
                row = await conn.fetchrow(
                    f"SELECT {COLS} FROM {FROM} WHERE i.project_id = $1 AND i.id = $2", project_id, run_item_id
                )
        assert row is not None  # just written in this transaction
        return run_item_row(row)

    async def run_items(
        self,
        project_id: str,
        *,
        run_id: str | None = None,
        dataset_id: str | None = None,
        run_name: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[list[RunItemRow], int]:
        args = Args(project_id)
        where = Where(args, "i.project_id = $1")
        where.equals("i.dataset_run_id", run_id)
        where.equals("r.dataset_id", dataset_id)
        where.equals("r.name", run_name)
        rows, total = await page(
            self._pool,
            args,
            select=f"SELECT {COLS} FROM {FROM}",
            count_from=FROM,
            where=where,
            order_by="i.created_at DESC, i.id",
            offset=offset,
            limit=limit,
        )
        return [run_item_row(r) for r in rows], total
