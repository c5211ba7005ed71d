"""Datasets, dataset items (versioned by a trigger, see 0001), dataset runs and run items.

Runs double as experiments: a run without a dataset is an SDK experiment over local data.
Run items are upserted on (run, dataset item, trace), so the REST call, the ingestion event
and the experiment spans of the same execution all land on one row.

Ingestion worker entry points (bad data is logged and skipped, only store failures raise):
    await record_experiment_items(pool, project_id, map_result.experiments)
    await record_run_item_events(pool, project_id, dataset_run_item_create_events)
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
import msgspec

from spyglass.collector.json_depth import too_deep
from spyglass.store.postgres.faults import Conflict, NotFound, db_errors
from spyglass.store.postgres.ids import new_id
from spyglass.store.postgres.pool import Conn
from spyglass.store.postgres.text import nul_path

log = logging.getLogger("spyglass.datasets")

DEFAULT_ENVIRONMENT = "default"


class DatasetConflict(Conflict):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DatasetNotFound(NotFound):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DatasetRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    name: str
    description: str | None = None
    metadata: Any = None
    input_schema: Any = None
    expected_output_schema: Any = None
    created_at: datetime
    updated_at: datetime


class ItemRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    dataset_id: str
    dataset_name: str
    status: str
    input: Any = None
    expected_output: Any = None
    metadata: Any = None
    source_trace_id: str | None = None
    source_observation_id: str | None = None
    created_at: datetime
    updated_at: datetime
    # When this state of the item became current (dataset_item_versions.valid_from).
    version: datetime | None = None


class RunRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    dataset_id: str | None = None
    dataset_name: str | None = None
    name: str
    description: str | None = None
    metadata: Any = None
    created_at: datetime
    updated_at: datetime


class RunItemRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    dataset_run_id: str
    dataset_run_name: str
    dataset_id: str | None = None
    dataset_item_id: str
    trace_id: str
    observation_id: str | None = None
    dataset_item_version: datetime | None = None
    environment: str = "default"
    start_time: datetime | None = None
    end_time: datetime | None = None
    expected_output: Any = None
    item_metadata: Any = None
    created_at: datetime
    updated_at: datetime


class RunItemWrite(msgspec.Struct, frozen=True, kw_only=True):
    dataset_run_id: str
    dataset_id: str | None
    dataset_item_id: str
    trace_id: str
    observation_id: str | None = None
    dataset_item_version: datetime | None = None
    environment: str = "default"
    start_time: datetime | None = None
    end_time: datetime | None = None
    expected_output: Any = None
    item_metadata: Any = None
    created_at: datetime | None = None
    id: str | None = None


class ExperimentRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    description: str | None = None
    metadata: Any = None
    dataset_id: str | None = None
    start_time: datetime
    end_time: datetime
    item_count: int


class ExperimentItemRow(msgspec.Struct, frozen=True, kw_only=True):
    item: RunItemRow
    run_description: str | None = None
    run_metadata: Any = None
    at: datetime


_DATASET_COLS = (
    "id, project_id, name, description, metadata, input_schema, expected_output_schema, created_at, updated_at"
)
_ITEM_FIELDS = ("status", "input", "expected_output", "metadata", "source_trace_id", "source_observation_id")
_RUN_COLS = (
    "r.id, r.project_id, r.dataset_id, d.name AS dataset_name, r.name, r.description, r.metadata, "
    "r.created_at, r.updated_at"
)
_RUN_FROM = "dataset_runs r LEFT JOIN datasets d ON d.id = r.dataset_id AND d.project_id = r.project_id"
_RUN_ITEM_COLS = (
    "i.id, i.project_id, i.dataset_run_id, r.name AS dataset_run_name, i.dataset_id, i.dataset_item_id, i.trace_id, "
    "i.observation_id, i.dataset_item_version, i.environment, i.start_time, i.end_time, i.expected_output, "
    "i.item_metadata, i.created_at, i.updated_at"
)
_RUN_ITEM_FROM = "dataset_run_items i JOIN dataset_runs r ON r.id = i.dataset_run_id AND r.project_id = i.project_id"
_UPSERT_RUN_ITEM = """
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


class _Args:
    def __init__(self, *initial: Any) -> None:
        self.values: list[Any] = list(initial)

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _dataset(r: asyncpg.Record) -> DatasetRow:
    return DatasetRow(**dict(r))


def _item(r: asyncpg.Record) -> ItemRow:
    return ItemRow(**dict(r))


def _run(r: asyncpg.Record) -> RunRow:
    return RunRow(**dict(r))


def _run_item(r: asyncpg.Record) -> RunItemRow:
    return RunItemRow(**{k: r[k] for k in RunItemRow.__struct_fields__})


def _run_item_args(project_id: str, w: RunItemWrite) -> tuple[Any, ...]:
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


class DatasetsRepo:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # ---- datasets -----------------------------------------------------------------------

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
                    VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_DATASET_COLS}
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
                f"SELECT {_DATASET_COLS} FROM datasets WHERE project_id = $1 AND name = $2", project_id, name
            )
        return _dataset(row) if row else None

    async def existing_dataset_ids(self, project_id: str, ids: Sequence[str]) -> set[str]:
        with db_errors():
            rows = await self._pool.fetch(
                "SELECT id FROM datasets WHERE project_id = $1 AND id = ANY($2::text[])", project_id, list(ids)
            )
        return {r["id"] for r in rows}

    async def list_datasets(self, project_id: str, *, offset: int, limit: int) -> tuple[list[DatasetRow], int]:
        with db_errors():
            rows = await self._pool.fetch(
                f"SELECT {_DATASET_COLS} FROM datasets WHERE project_id = $1 "
                "ORDER BY created_at DESC, id OFFSET $2 LIMIT $3",
                project_id,
                offset,
                limit,
            )
            total = await self._pool.fetchval("SELECT count(*) FROM datasets WHERE project_id = $1", project_id)
        return [_dataset(r) for r in rows], int(total)

    # ---- items --------------------------------------------------------------------------

    async def upsert_item(self, project_id: str, dataset: DatasetRow, item_id: str, fields: dict[str, Any]) -> ItemRow:
        """Create the item, or change the given `fields` of an existing one (others are kept).

        DatasetConflict when the id belongs to an item of another dataset: ids are unique per
        project and an item never moves between datasets.
        """
        unknown = set(fields) - set(_ITEM_FIELDS)
        if unknown:
            raise ValueError(f"not dataset item fields: {sorted(unknown)}")
        args = _Args(item_id, project_id, dataset.id)
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
                item = await conn.fetchrow(_ITEM_BY_ID, project_id, item_id)
        assert item is not None  # just written in this transaction
        return _item(item)

    async def get_item(self, project_id: str, item_id: str) -> ItemRow | None:
        with db_errors():
            row = await self._pool.fetchrow(
                _ITEM_SELECT + " WHERE i.project_id = $1 AND i.id = $2", project_id, item_id
            )
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
        args = _Args(project_id)
        conditions = ["i.project_id = $1"]
        if dataset_id is not None:
            conditions.append(f"i.dataset_id = {args(dataset_id)}")
        if source_trace_id is not None:
            conditions.append(f"i.source_trace_id = {args(source_trace_id)}")
        if source_observation_id is not None:
            conditions.append(f"i.source_observation_id = {args(source_observation_id)}")
        if as_of is None:
            base = _ITEM_SELECT
            count_from = "dataset_items i"
        else:
            at = args(as_of)
            conditions.append(
                f"i.valid_from <= {at} AND (i.valid_to IS NULL OR i.valid_to > {at}) AND NOT i.is_deleted"
            )
            base = _ITEM_AS_OF_SELECT
            count_from = "dataset_item_versions i"
        where = " AND ".join(conditions)
        count_args = list(args.values)
        page = f"ORDER BY i.created_at DESC, i.id OFFSET {args(offset)} LIMIT {args(limit)}"
        with db_errors():
            rows = await self._pool.fetch(f"{base} WHERE {where} {page}", *args.values)
            total = await self._pool.fetchval(f"SELECT count(*) FROM {count_from} WHERE {where}", *count_args)
        return [_item(r) for r in rows], int(total)

    async def delete_item(self, project_id: str, item_id: str) -> bool:
        with db_errors():
            status = await self._pool.execute(
                "DELETE FROM dataset_items WHERE project_id = $1 AND id = $2", project_id, item_id
            )
        return status.endswith(" 1")

    # ---- runs ---------------------------------------------------------------------------

    async def run_by_name(self, project_id: str, dataset_id: str, name: str) -> RunRow | None:
        with db_errors():
            row = await self._pool.fetchrow(
                f"SELECT {_RUN_COLS} FROM {_RUN_FROM} WHERE r.project_id = $1 AND r.dataset_id = $2 AND r.name = $3",
                project_id,
                dataset_id,
                name,
            )
        return _run(row) if row else None

    async def list_runs(self, project_id: str, dataset_id: str, *, offset: int, limit: int) -> tuple[list[RunRow], int]:
        with db_errors():
            rows = await self._pool.fetch(
                f"SELECT {_RUN_COLS} FROM {_RUN_FROM} WHERE r.project_id = $1 AND r.dataset_id = $2 "
                "ORDER BY r.created_at DESC, r.id OFFSET $3 LIMIT $4",
                project_id,
                dataset_id,
                offset,
                limit,
            )
            total = await self._pool.fetchval(
                "SELECT count(*) FROM dataset_runs WHERE project_id = $1 AND dataset_id = $2", project_id, dataset_id
            )
        return [_run(r) for r in rows], int(total)

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
            SELECT {_RUN_COLS} FROM up r
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

    async def upsert_run_item(self, project_id: str, write: RunItemWrite) -> RunItemRow:
        with db_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                run_item_id = await conn.fetchval(_UPSERT_RUN_ITEM, *_run_item_args(project_id, write))
                row = await conn.fetchrow(
                    f"SELECT {_RUN_ITEM_COLS} FROM {_RUN_ITEM_FROM} WHERE i.project_id = $1 AND i.id = $2",
                    project_id,
                    run_item_id,
                )
        assert row is not None  # just written in this transaction
        return _run_item(row)

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
                await _upsert_run_by_id(conn, project_id, run_id, name, description, metadata, dataset_id)
                if items:
                    await conn.executemany(_UPSERT_RUN_ITEM, [_run_item_args(project_id, w) for w in items])

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
        args = _Args(project_id)
        conditions = ["i.project_id = $1"]
        if run_id is not None:
            conditions.append(f"i.dataset_run_id = {args(run_id)}")
        if dataset_id is not None:
            conditions.append(f"r.dataset_id = {args(dataset_id)}")
        if run_name is not None:
            conditions.append(f"r.name = {args(run_name)}")
        where = " AND ".join(conditions)
        count_args = list(args.values)
        page = f"OFFSET {args(offset)}" + (f" LIMIT {args(limit)}" if limit is not None else "")
        with db_errors():
            rows = await self._pool.fetch(
                f"SELECT {_RUN_ITEM_COLS} FROM {_RUN_ITEM_FROM} WHERE {where} ORDER BY i.created_at DESC, i.id {page}",
                *args.values,
            )
            total = await self._pool.fetchval(f"SELECT count(*) FROM {_RUN_ITEM_FROM} WHERE {where}", *count_args)
        return [_run_item(r) for r in rows], int(total)

    # ---- experiments --------------------------------------------------------------------

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
        args = _Args(project_id, since)
        item_conditions = ["i.project_id = $1", "coalesce(i.start_time, i.created_at) >= $2"]
        if until is not None:
            item_conditions.append(f"coalesce(i.start_time, i.created_at) < {args(until)}")
        run_conditions = ["r.project_id = $1"]
        if ids:
            run_conditions.append(f"r.id = ANY({args(list(ids))}::text[])")
        if names:
            run_conditions.append(f"r.name = ANY({args(list(names))}::text[])")
        if dataset_ids:
            run_conditions.append(f"r.dataset_id = ANY({args(list(dataset_ids))}::text[])")
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
                WHERE {" AND ".join(run_conditions)} AND {" AND ".join(item_conditions)}
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
        args = _Args(project_id, since)
        conditions = ["i.project_id = $1", f"{at} >= $2"]
        if until is not None:
            conditions.append(f"{at} < {args(until)}")
        if run_ids:
            conditions.append(f"i.dataset_run_id = ANY({args(list(run_ids))}::text[])")
        if run_names:
            conditions.append(f"r.name = ANY({args(list(run_names))}::text[])")
        if item_ids:
            conditions.append(f"i.dataset_item_id = ANY({args(list(item_ids))}::text[])")
        if dataset_ids:
            conditions.append(f"coalesce(i.dataset_id, r.dataset_id) = ANY({args(list(dataset_ids))}::text[])")
        if after is not None:
            conditions.append(f"({at}, i.id) < ({args(after[0])}::timestamptz, {args(after[1])})")
        sql = f"""
            SELECT {_RUN_ITEM_COLS}, r.description AS run_description, r.metadata AS run_metadata, {at} AS at
            FROM {_RUN_ITEM_FROM}
            WHERE {" AND ".join(conditions)}
            ORDER BY at DESC, i.id DESC
            LIMIT {args(limit)}
        """
        with db_errors():
            rows = await self._pool.fetch(sql, *args.values)
        return [
            ExperimentItemRow(
                item=_run_item(r), run_description=r["run_description"], run_metadata=r["run_metadata"], at=r["at"]
            )
            for r in rows
        ]


_ITEM_SELECT = """
    SELECT i.id, i.project_id, i.dataset_id, d.name AS dataset_name, i.status, i.input, i.expected_output,
           i.metadata, i.source_trace_id, i.source_observation_id, i.created_at, i.updated_at,
           v.valid_from AS version
    FROM dataset_items i
    JOIN datasets d ON d.id = i.dataset_id AND d.project_id = i.project_id
    LEFT JOIN dataset_item_versions v ON v.project_id = i.project_id AND v.id = i.id AND v.valid_to IS NULL
"""

_ITEM_BY_ID = _ITEM_SELECT + " WHERE i.project_id = $1 AND i.id = $2"

# An item state of the history table; updated_at of that state is when it became current.
_ITEM_AS_OF_SELECT = """
    SELECT i.id, i.project_id, i.dataset_id, d.name AS dataset_name, i.status, i.input, i.expected_output,
           i.metadata, i.source_trace_id, i.source_observation_id, i.created_at, i.valid_from AS updated_at,
           i.valid_from AS version
    FROM dataset_item_versions i
    JOIN datasets d ON d.id = i.dataset_id AND d.project_id = i.project_id
"""


async def _upsert_run_by_id(
    conn: Conn,
    project_id: str,
    run_id: str,
    name: str,
    description: str | None,
    metadata: Any,
    dataset_id: str | None,
) -> None:
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


# ---- ingestion-facing entry points (called by the worker; never raise for bad data) -------


def experiment_run_id(project_id: str, dataset_id: str, run_name: str) -> str:
    """The Python SDK's stable experiment id: 16 hex of sha256 over the compact JSON array
    ["langfuse-experiment-v1", project id, dataset id, run name]. Runs created by name get it,
    so the same run name reaches the same run whichever path (REST, spans) came first."""
    payload = json.dumps(
        ["langfuse-experiment-v1", project_id, dataset_id, run_name], separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


async def link_run_item(
    pool: asyncpg.Pool,
    project_id: str,
    *,
    run_name: str,
    dataset_item_id: str,
    trace_id: str,
    observation_id: str | None = None,
    run_description: str | None = None,
    metadata: Any = None,
    dataset_version: datetime | None = None,
    created_at: datetime | None = None,
    run_item_id: str | None = None,
) -> RunItemRow:
    """Link a trace to a dataset item within the item's dataset run `run_name` (created if
    missing). DatasetNotFound for an unknown dataset item."""
    repo = DatasetsRepo(pool)
    item = await repo.get_item(project_id, dataset_item_id)
    if item is None:
        raise DatasetNotFound(f"Dataset item not found: '{dataset_item_id}'")
    run = await repo.ensure_named_run(
        project_id,
        dataset_id=item.dataset_id,
        name=run_name,
        description=run_description,
        metadata=metadata,
        preferred_id=experiment_run_id(project_id, item.dataset_id, run_name),
    )
    return await repo.upsert_run_item(
        project_id,
        RunItemWrite(
            id=run_item_id,
            dataset_run_id=run.id,
            dataset_id=item.dataset_id,
            dataset_item_id=item.id,
            trace_id=trace_id,
            observation_id=observation_id,
            dataset_item_version=dataset_version,
            created_at=created_at,
        ),
    )


def _json_attr(text: str | None) -> Any:
    """A JSON-encoded span attribute; text that is not JSON is kept as the string it is."""
    if text is None or too_deep(text):
        return text  # nested deeper than any JSON accepted: kept as text, like Langfuse's non-JSON
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text


def _at(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def record_run_item_events(pool: asyncpg.Pool, project_id: str, events: Sequence[Any]) -> None:
    """Store `dataset-run-item-create` events (envelopes with `.body`, or bare bodies). An event
    that can never be stored (unknown dataset item, bad datasetVersion) is logged and dropped."""
    for event in events:
        body = getattr(event, "body", event)
        fields = (body.run_name, body.dataset_item_id, body.trace_id, body.observation_id, body.run_description)
        if nul_path([fields, body.metadata]) is not None:
            # Refused at intake since; a raw payload replayed from before must not fail the batch.
            log.warning("dataset-run-item-create dropped (project %s): a field holds a NUL character", project_id)
            continue
        try:
            await link_run_item(
                pool,
                project_id,
                run_name=body.run_name,
                dataset_item_id=body.dataset_item_id,
                trace_id=body.trace_id,
                observation_id=body.observation_id,
                run_description=body.run_description,
                metadata=body.metadata,
                dataset_version=_parse_time(getattr(body, "dataset_version", None)),
                created_at=getattr(event, "timestamp", None),
                run_item_id=getattr(body, "id", None),
            )
        except (DatasetNotFound, ValueError) as exc:
            log.warning("dataset-run-item-create dropped (project %s): %s", project_id, exc)


# ---- experiment spans --------------------------------------------------------------------


class ExperimentSpan(Protocol):
    """What the OTel mapper reports per span with `langfuse.experiment.*` (otel.ExperimentItem)."""

    trace_id: str
    observation_id: str
    start_time: float
    environment: str
    experiment_id: str | None
    experiment_name: str | None
    experiment_description: str | None
    experiment_metadata: str | None
    dataset_id: str | None
    item_id: str | None
    item_version: float | None
    item_expected_output: str | None
    item_metadata: str | None
    item_root_observation_id: str | None


def _holds_nul(span: ExperimentSpan) -> bool:
    """Whether a field written to PostgreSQL holds a NUL, raw or escaped in JSON text: such a
    span cannot be placed (its run or item write would fail the whole batch)."""
    texts = (
        span.trace_id,
        span.observation_id,
        span.environment,
        span.experiment_id,
        span.experiment_name,
        span.experiment_description,
        span.dataset_id,
        span.item_id,
        span.item_root_observation_id,
    )
    if nul_path(list(texts)) is not None:
        return True
    return any(
        nul_path(_json_attr(text)) is not None
        for text in (span.experiment_metadata, span.item_expected_output, span.item_metadata)
    )


class _RunDraft:
    def __init__(self, run_id: str) -> None:
        self.id = run_id
        self.name: str | None = None
        self.description: str | None = None
        self.metadata: Any = None
        self.dataset_id: str | None = None
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, span: ExperimentSpan) -> None:
        self.name = self.name or span.experiment_name
        self.description = self.description or span.experiment_description
        if self.metadata is None:
            self.metadata = _json_attr(span.experiment_metadata)
        self.dataset_id = self.dataset_id or span.dataset_id
        assert span.item_id is not None
        key = (span.item_id, span.trace_id)
        start = _at(span.start_time)
        end = _at(getattr(span, "end_time", None)) or start
        cur = self.items.get(key)
        if cur is None:
            self.items[key] = cur = {
                "observation_id": span.item_root_observation_id or span.observation_id,
                "start_time": start,
                "end_time": end,
                "environment": span.environment or DEFAULT_ENVIRONMENT,
                "expected_output": _json_attr(span.item_expected_output),
                "item_metadata": _json_attr(span.item_metadata),
                "dataset_item_version": _at(span.item_version),
            }
            return
        # Every span of the item carries the root observation id; a span without it (a plain
        # child) must not replace one that has it.
        if span.item_root_observation_id:
            cur["observation_id"] = span.item_root_observation_id
        cur["start_time"] = min(filter(None, (cur["start_time"], start)), default=None)
        cur["end_time"] = max(filter(None, (cur["end_time"], end)), default=None)
        for field, value in (
            ("expected_output", _json_attr(span.item_expected_output)),
            ("item_metadata", _json_attr(span.item_metadata)),
            ("dataset_item_version", _at(span.item_version)),
        ):
            if cur[field] is None:
                cur[field] = value
        if cur["environment"] == DEFAULT_ENVIRONMENT and span.environment:
            cur["environment"] = span.environment


async def record_experiment_items(pool: asyncpg.Pool, project_id: str, items: Iterable[ExperimentSpan]) -> None:
    """Create/complete the runs (id = `langfuse.experiment.id`) and run items of experiment
    spans. Idempotent: replaying the same spans changes nothing. Spans without an experiment id
    or item id cannot be placed and are skipped; a dataset id unknown to the project leaves the
    run without a dataset rather than failing the batch."""
    runs: dict[str, _RunDraft] = {}
    for span in items:
        if not span.experiment_id or not span.item_id:
            continue
        if _holds_nul(span):
            log.warning(
                "experiment span %s dropped (project %s): a field holds a NUL character",
                span.observation_id,
                project_id,
            )
            continue
        runs.setdefault(span.experiment_id, _RunDraft(span.experiment_id)).add(span)
    if not runs:
        return
    repo = DatasetsRepo(pool)
    wanted = {r.dataset_id for r in runs.values() if r.dataset_id}
    known = await repo.existing_dataset_ids(project_id, sorted(wanted)) if wanted else set()
    for run in runs.values():
        dataset_id = run.dataset_id if run.dataset_id in known else None
        if run.dataset_id and dataset_id is None:
            log.info("experiment %s names dataset %s, unknown in project %s", run.id, run.dataset_id, project_id)
        await repo.record_experiment(
            project_id,
            run_id=run.id,
            name=run.name or run.id,
            description=run.description,
            metadata=run.metadata,
            dataset_id=dataset_id,
            items=[
                RunItemWrite(
                    dataset_run_id=run.id,
                    dataset_id=dataset_id,
                    dataset_item_id=item_id,
                    trace_id=trace_id,
                    **fields,
                )
                for (item_id, trace_id), fields in run.items.items()
            ],
        )
