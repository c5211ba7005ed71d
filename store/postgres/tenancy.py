"""Organizations and projects."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from spyglass.store.postgres.faults import Conflict, NotFound, db_errors
from spyglass.store.postgres.ids import new_id
from spyglass.store.postgres.rows import Organization, Project

_ORG_COLS = "id, name, metadata, created_at, updated_at"
_PROJECT_COLS = "id, org_id, name, retention_days, metadata, has_traces, created_at, updated_at, deleted_at"


class Tenancy:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # ---- organizations ------------------------------------------------------------------

    async def create_organization(
        self, name: str, *, id: str | None = None, metadata: dict[str, Any] | None = None
    ) -> Organization:
        with db_errors():
            try:
                row = await self._pool.fetchrow(
                    f"INSERT INTO organizations (id, name, metadata) VALUES ($1, $2, $3) RETURNING {_ORG_COLS}",
                    id or new_id(),
                    name,
                    metadata,
                )
            except asyncpg.UniqueViolationError:
                raise Conflict(f"organization {id!r} already exists") from None
        assert row is not None  # INSERT ... RETURNING always yields the row
        return _org(row)

    async def list_organizations(self) -> list[Organization]:
        with db_errors():
            rows = await self._pool.fetch(f"SELECT {_ORG_COLS} FROM organizations ORDER BY created_at, id")
        return [_org(r) for r in rows]

    async def get_organization(self, org_id: str) -> Organization | None:
        with db_errors():
            row = await self._pool.fetchrow(f"SELECT {_ORG_COLS} FROM organizations WHERE id = $1", org_id)
        return _org(row) if row else None

    async def get_organization_by_name(self, name: str) -> Organization | None:
        """Names are not unique across organizations; the oldest match wins."""
        with db_errors():
            row = await self._pool.fetchrow(
                f"SELECT {_ORG_COLS} FROM organizations WHERE name = $1 ORDER BY created_at, id LIMIT 1",
                name,
            )
        return _org(row) if row else None

    # ---- projects -----------------------------------------------------------------------

    async def create_project(
        self,
        org_id: str,
        name: str,
        *,
        id: str | None = None,
        retention_days: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Project:
        with db_errors():
            try:
                row = await self._pool.fetchrow(
                    "INSERT INTO projects (id, org_id, name, retention_days, metadata) "
                    f"VALUES ($1, $2, $3, $4, $5) RETURNING {_PROJECT_COLS}",
                    id or new_id(),
                    org_id,
                    name,
                    retention_days,
                    metadata,
                )
            except asyncpg.UniqueViolationError:
                what = f"named {name!r}" if id is None else f"named {name!r} or with id {id!r}"
                raise Conflict(f"a project {what} already exists") from None
            except asyncpg.ForeignKeyViolationError:
                raise NotFound(f"organization {org_id!r} does not exist") from None
        assert row is not None  # INSERT ... RETURNING always yields the row
        return _project(row)

    async def list_projects(self, org_id: str | None = None, *, include_deleted: bool = False) -> list[Project]:
        with db_errors():
            rows = await self._pool.fetch(
                f"SELECT {_PROJECT_COLS} FROM projects "
                "WHERE ($1::text IS NULL OR org_id = $1) AND ($2 OR deleted_at IS NULL) "
                "ORDER BY created_at, id",
                org_id,
                include_deleted,
            )
        return [_project(r) for r in rows]

    async def get_project(self, project_id: str, *, include_deleted: bool = False) -> Project | None:
        with db_errors():
            row = await self._pool.fetchrow(
                f"SELECT {_PROJECT_COLS} FROM projects WHERE id = $1 AND ($2 OR deleted_at IS NULL)",
                project_id,
                include_deleted,
            )
        return _project(row) if row else None

    async def get_project_by_name(self, name: str, *, org_id: str | None = None) -> Project | None:
        """A live project by name, within one organization or (oldest match) across all."""
        with db_errors():
            row = await self._pool.fetchrow(
                f"SELECT {_PROJECT_COLS} FROM projects "
                "WHERE name = $1 AND ($2::text IS NULL OR org_id = $2) AND deleted_at IS NULL "
                "ORDER BY created_at, id LIMIT 1",
                name,
                org_id,
            )
        return _project(row) if row else None

    async def soft_delete_project(self, project_id: str) -> bool:
        """Hide the project and stop its keys; False if it was unknown or already deleted."""
        with db_errors():
            status = await self._pool.execute(
                "UPDATE projects SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL", project_id
            )
        return status == "UPDATE 1"


def _org(row: asyncpg.Record) -> Organization:
    return msgspec.convert(dict(row), Organization)


def _project(row: asyncpg.Record) -> Project:
    return msgspec.convert(dict(row), Project)
