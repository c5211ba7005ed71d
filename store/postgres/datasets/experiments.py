"""Dataset runs seen as experiments: record one with its items, list them and their items by time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from spyglass.store.postgres.datasets import run_items
from spyglass.store.postgres.datasets.rows import ExperimentItemRow, ExperimentRow, RunItemWrite
from spyglass.store.postgres.datasets.runs import upsert_run_by_id
from spyglass.store.postgres.faults import db_errors
from spyglass.store.postgres.sql_builder import Args, Where


class ExperimentsRepo:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record_experiment(
        self,
        project_id: str,
        *,
        run_id: str,
        name: str,
        description: str | None,
        metadata: Any,
        dataset_id: str | None,
        items: Sequence[RunItemWrite],
    ) -> None:
        """Create or complete the run `run_id` and upsert its items, in one transaction."""
        with db_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                await upsert_run_by_id(conn, project_id, run_id, name, description, metadata, dataset_id)
                await run_items.upsert_run_items(conn, project_id, items)

    async def list_experiments(
        self,
        project_id: str,
        *,
        since: datetime,
        until: datetime | None,
        ids: Sequence[str],
        names: Sequence[str],
        dataset_ids: Sequence[str],
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[ExperimentRow]:
        """Runs with items in [since, until), newest activity first, keyset-paged by (end, id)."""
        args = Args(project_id, since)
        items = Where(args, "i.project_id = $1", "coalesce(i.start_time, i.created_at) >= $2")
        if until is not None:
            items.add(f"coalesce(i.start_time, i.created_at) < {args(until)}")
        runs = Where(args, "r.project_id = $1")
        runs.any_of("r.id", ids)
        runs.any_of("r.name", names)
        runs.any_of("r.dataset_id", dataset_ids)
        having = ""
        if after is not None:
            having = f"WHERE (s.end_time, s.id) < ({args(after[0])}::timestamptz, {args(after[1])})"
        sql = f"""
            SELECT * FROM (
                SELECT r.id, r.name, r.description, r.metadata, r.dataset_id,
                       min(coalesce(i.start_time, i.created_at)) AS start_time,
                       max(coalesce(i.end_time, i.start_time, i.created_at)) AS end_time,
                       count(*) AS item_count
                FROM dataset_runs r
                JOIN dataset_run_items i ON i.project_id = r.project_id AND i.dataset_run_id = r.id
                WHERE {runs} AND {items}
                GROUP BY r.id, r.project_id
            ) s {having}
            ORDER BY s.end_time DESC, s.id DESC
            LIMIT {args(limit)}
        """
        with db_errors():
            rows = await self._pool.fetch(sql, *args.values)
        return [ExperimentRow(**dict(r)) for r in rows]

    async def list_experiment_items(
        self,
        project_id: str,
        *,
        since: datetime,
        until: datetime | None,
        run_ids: Sequence[str],
        run_names: Sequence[str],
        item_ids: Sequence[str],
        dataset_ids: Sequence[str],
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[ExperimentItemRow]:
        """Run items started in [since, until), newest first, keyset-paged by (time, id)."""
        at = "coalesce(i.start_time, i.created_at)"
        args = Args(project_id, since)
        where = Where(args, "i.project_id = $1", f"{at} >= $2")
        if until is not None:
            where.add(f"{at} < {args(until)}")
        where.any_of("i.dataset_run_id", run_ids)
        where.any_of("r.name", run_names)
        where.any_of("i.dataset_item_id", item_ids)
        where.any_of("coalesce(i.dataset_id, r.dataset_id)", dataset_ids)
        if after is not None:
            where.add(f"({at}, i.id) < ({args(after[0])}::timestamptz, {args(after[1])})")
        sql = f"""
            SELECT {run_items.COLS}, r.description AS run_description, r.metadata AS run_metadata, {at} AS at
            FROM {run_items.FROM}
            WHERE {where}
            ORDER BY at DESC, i.id DESC
            LIMIT {args(limit)}
        """
        with db_errors():
            rows = await self._pool.fetch(sql, *args.values)
        return [
            ExperimentItemRow(
                item=run_items.run_item_row(r),
                run_description=r["run_description"],
                run_metadata=r["run_metadata"],
                at=r["at"],
            )
            for r in rows
        ]
