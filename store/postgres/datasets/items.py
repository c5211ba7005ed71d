"""The `dataset_items` table and its history `dataset_item_versions` (kept by a trigger, see
migration 0001): upsert, look up, list (now or as of a moment), delete."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from spyglass.store.postgres.datasets.rows import DatasetConflict, DatasetRow, ItemRow
from spyglass.store.postgres.faults import db_errors
from spyglass.store.postgres.sql_builder import Args, Where, page

# The columns an upsert may set besides the id and the dataset.
ITEM_FIELDS = ("status", "input", "expected_output", "metadata", "source_trace_id", "source_observation_id")

_SELECT = """
    SELECT i.id, i.project_id, i.dataset_id, d.name AS dataset_name, i.status, i.input, i.expected_output,
           i.metadata, i.source_trace_id, i.source_observation_id, i.created_at, i.updated_at,
           v.valid_from AS version
    FROM dataset_items i
    JOIN datasets d ON d.id = i.dataset_id AND d.project_id = i.project_id
    LEFT JOIN dataset_item_versions v ON v.project_id = i.project_id AND v.id = i.id AND v.valid_to IS NULL
"""

_BY_ID = _SELECT + " WHERE i.project_id = $1 AND i.id = $2"

# An item state of the history table; updated_at of that state is when it became current.
_AS_OF_SELECT = """
    SELECT i.id, i.project_id, i.dataset_id, d.name AS dataset_name, i.status, i.input, i.expected_output,
           i.metadata, i.source_trace_id, i.source_observation_id, i.created_at, i.valid_from AS updated_at,
           i.valid_from AS version
    FROM dataset_item_versions i
    JOIN datasets d ON d.id = i.dataset_id AND d.project_id = i.project_id
"""


def _item(r: asyncpg.Record) -> ItemRow:
    return ItemRow(**dict(r))


class ItemsRepo:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def upsert_item(self, project_id: str, dataset: DatasetRow, item_id: str, fields: dict[str, Any]) -> ItemRow:
        """Create the item, or change the given `fields` of an existing one (others are kept).

        DatasetConflict when the id belongs to an item of another dataset: ids are unique per
        project and an item never moves between datasets.
        """
        unknown = set(fields) - set(ITEM_FIELDS)
        if unknown:
            raise ValueError(f"not dataset item fields: {sorted(unknown)}")
        args = Args(item_id, project_id, dataset.id)
        columns = ["id", "project_id", "dataset_id"]
        values = ["$1", "$2", "$3"]
        for column, value in fields.items():
            columns.append(column)
            values.append(args(value))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in fields) or "dataset_id = EXCLUDED.dataset_id"
        with db_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(
                    f"""
                    INSERT INTO dataset_items AS cur ({", ".join(columns)}) VALUES ({", ".join(values)})
                    ON CONFLICT (id, project_id) DO UPDATE SET {updates}
                    WHERE cur.dataset_id = EXCLUDED.dataset_id
                    RETURNING id
                    """,
                    *args.values,
                )
                if row is None:
                    owner = await conn.fetchval(
                        "SELECT d.name FROM dataset_items i JOIN datasets d "
                        "ON d.id = i.dataset_id AND d.project_id = i.project_id WHERE i.id = $1 AND i.project_id = $2",
                        item_id,
                        project_id,
                    )
                    raise DatasetConflict(
                        f"Dataset item id '{item_id}' already belongs to dataset '{owner}'; item ids are unique "
                        "per project and cannot be reused in another dataset"
                    )
                item = await conn.fetchrow(_BY_ID, project_id, item_id)
        assert item is not None  # just written in this transaction
        return _item(item)

    async def get_item(self, project_id: str, item_id: str) -> ItemRow | None:
        with db_errors():
            row = await self._pool.fetchrow(_BY_ID, project_id, item_id)
        return _item(row) if row else None

    async def list_items(
        self,
        project_id: str,
        *,
        dataset_id: str | None,
        source_trace_id: str | None,
        source_observation_id: str | None,
        as_of: datetime | None,
        offset: int,
        limit: int,
    ) -> tuple[list[ItemRow], int]:
        """Current items, or the items as they were at `as_of` (deleted ones excluded)."""
        args = Args(project_id)
        where = Where(args, "i.project_id = $1")
        where.equals("i.dataset_id", dataset_id)
        where.equals("i.source_trace_id", source_trace_id)
        where.equals("i.source_observation_id", source_observation_id)
        if as_of is None:
            select, count_from = _SELECT, "dataset_items i"
        else:
            at = args(as_of)
            where.add(f"i.valid_from <= {at} AND (i.valid_to IS NULL OR i.valid_to > {at}) AND NOT i.is_deleted")
            select, count_from = _AS_OF_SELECT, "dataset_item_versions i"
        rows, total = await page(
            self._pool,
            args,
            select=select,
            count_from=count_from,
            where=where,
            order_by="i.created_at DESC, i.id",
            offset=offset,
            limit=limit,
        )
        return [_item(r) for r in rows], total

    async def delete_item(self, project_id: str, item_id: str) -> bool:
        with db_errors():
            status = await self._pool.execute(
                "DELETE FROM dataset_items WHERE project_id = $1 AND id = $2", project_id, item_id
            )
        return status.endswith(" 1")
