"""Score configs as the ingestion worker needs them: by id, for validating new scores."""

from __future__ import annotations

import asyncpg
import msgspec

from spyglass.collector.events import ScoreConfig
from spyglass.store.postgres.faults import db_errors
from spyglass.store.postgres.text import NUL


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
