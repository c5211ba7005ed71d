"""The `datasets` table: create, look up by name or id, list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from spyglass.store.postgres.datasets.rows import DatasetConflict, DatasetRow
from spyglass.store.postgres.faults import db_errors
from spyglass.store.postgres.ids import new_id
from spyglass.store.postgres.sql_builder import Args, page

_COLS = "id, project_id, name, description, metadata, input_schema, expected_output_schema, created_at, updated_at"


def _dataset(r: asyncpg.Record) -> DatasetRow:
    return DatasetRow(**dict(r))


class DatasetsRepo:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create_dataset(
        self,
        project_id: str,
        *,
        name: str,
        description: str | None,
        metadata: Any,
        input_schema: Any,
        expected_output_schema: Any,
    ) -> DatasetRow:
        """DatasetConflict when the name is taken."""
        with db_errors():
            try:
                row = await self._pool.fetchrow(
                    f"""
                    INSERT INTO datasets (id, project_id, name, description, metadata, input_schema,
                                          expected_output_schema)
                    VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLS}
                    """,
                    new_id(),
                    project_id,
                    name,
                    description,
                    metadata,
                    input_schema,
                    expected_output_schema,
                )
            except asyncpg.UniqueViolationError:
                raise DatasetConflict(f"A dataset named '{name}' already exists in this project") from None
        assert row is not None  # INSERT ... RETURNING always yields the row
        return _dataset(row)

    async def dataset_by_name(self, project_id: str, name: str) -> DatasetRow | None:
        with db_errors():
            row = await self._pool.fetchrow(
                f"SELECT {_COLS} FROM datasets WHERE project_id = $1 AND name = $2", project_id, name
            )
        return _dataset(row) if row else None

    async def existing_dataset_ids(self, project_id: str, ids: Sequence[str]) -> set[str]:
        with db_errors():
            rows = await self._pool.fetch(
                "SELECT id FROM datasets WHERE project_id = $1 AND id = ANY($2::text[])", project_id, list(ids)
            )
        return {r["id"] for r in rows}

    async def list_datasets(self, project_id: str, *, offset: int, limit: int) -> tuple[list[DatasetRow], int]:
        rows, total = await page(
            self._pool,
            Args(project_id),
            select=f"SELECT {_COLS} FROM datasets",
            count_from="datasets",
            where="project_id = $1",
            order_by="created_at DESC, id",
            offset=offset,
            limit=limit,
        )
        return [_dataset(r) for r in rows], total
