"""Score configs (PostgreSQL `score_configs`): the API's create/get/list/update, and the
ingestion worker's lookup by id for validating new scores (`load_score_configs`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import msgspec

from spyglass.collector.events import ScoreConfig
from spyglass.store.postgres.faults import db_errors
from spyglass.store.postgres.ids import new_id
from spyglass.store.postgres.sql_builder import Args, page
from spyglass.store.postgres.text import NUL

_COLUMNS = (
    "id, project_id, name, data_type, is_archived, min_value, max_value, categories, description, "
    "created_at, updated_at"
)


class ScoreConfigChange(msgspec.Struct, frozen=True, kw_only=True):
    """The new state of a config's updatable columns (its data type never changes)."""

    name: str
    min_value: float | None
    max_value: float | None
    categories: Any
    is_archived: bool
    description: str | None


class ScoreConfigsRepo:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(
        self,
        project_id: str,
        *,
        name: str,
        data_type: str,
        min_value: float | None,
        max_value: float | None,
        categories: Any,
        description: str | None,
    ) -> asyncpg.Record:
        with db_errors():
            row = await self._pool.fetchrow(
                "INSERT INTO score_configs (id, project_id, name, data_type, min_value, max_value, categories, "
                f"description) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_COLUMNS}",
                new_id(),
                project_id,
                name,
                data_type,
                min_value,
                max_value,
                categories,
                description,
            )
        assert row is not None  # INSERT ... RETURNING always yields the row
        return row

    async def get(self, project_id: str, config_id: str) -> asyncpg.Record | None:
        with db_errors():
            return await self._pool.fetchrow(
                f"SELECT {_COLUMNS} FROM score_configs WHERE project_id = $1 AND id = $2", project_id, config_id
            )

    async def page(self, project_id: str, *, offset: int, limit: int) -> tuple[list[asyncpg.Record], int]:
        """Newest first, with the number of the project's configs."""
        return await page(
            self._pool,
            Args(project_id),
            select=f"SELECT {_COLUMNS} FROM score_configs",
            count_from="score_configs",
            where="project_id = $1",
            order_by="created_at DESC, id DESC",
            offset=offset,
            limit=limit,
        )

    async def update(
        self, project_id: str, config_id: str, revise: Callable[[asyncpg.Record], ScoreConfigChange]
    ) -> asyncpg.Record | None:
        """Lock the config, write what `revise(current row)` returns, and return the new row;
        None when the config does not exist in the project. An exception from `revise` (a
        refused change) leaves the config as it was."""
        with db_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(
                    f"SELECT {_COLUMNS} FROM score_configs WHERE project_id = $1 AND id = $2 FOR UPDATE",
                    project_id,
                    config_id,
                )
                if row is None:
                    return None
                change = revise(row)
                updated = await conn.fetchrow(
                    "UPDATE score_configs SET name = $3, min_value = $4, max_value = $5, categories = $6, "
                    f"is_archived = $7, description = $8 WHERE project_id = $1 AND id = $2 RETURNING {_COLUMNS}",
                    project_id,
                    config_id,
                    change.name,
                    change.min_value,
                    change.max_value,
                    change.categories,
                    change.is_archived,
                    change.description,
                )
        assert updated is not None  # the row was locked FOR UPDATE above
        return updated


async def load_score_configs(pool: asyncpg.Pool, project_id: str, ids: list[str]) -> dict[str, ScoreConfig]:
    ids = [i for i in ids if NUL not in i]  # no stored id holds one; PostgreSQL refuses it
    if not ids:
        return {}
    with db_errors():
        rows = await pool.fetch(
            "SELECT id, name, data_type, min_value, max_value, categories, is_archived FROM score_configs "
            "WHERE project_id = $1 AND id = ANY($2::text[])",
            project_id,
            ids,
        )
    return {r["id"]: msgspec.convert(dict(r), ScoreConfig) for r in rows}
