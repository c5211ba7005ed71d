"""Comments on traces, observations, sessions and prompts (PostgreSQL `comments`)."""

from __future__ import annotations

import asyncpg

from spyglass.store.postgres.faults import db_errors
from spyglass.store.postgres.ids import new_id
from spyglass.store.postgres.sql_builder import Args, page

_COLUMNS = "id, project_id, object_type, object_id, content, author_user_id, created_at, updated_at"
# Optional filters as "$n IS NULL OR col = $n", so the statement text never varies.
_WHERE = (
    "project_id = $1 AND ($2::text IS NULL OR object_type = $2) AND ($3::text IS NULL OR object_id = $3) "
    "AND ($4::text IS NULL OR author_user_id = $4)"
)


class CommentsRepo:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(
        self, project_id: str, object_type: str, object_id: str, content: str, author_user_id: str | None
    ) -> str:
        comment_id = new_id()
        with db_errors():
            await self._pool.execute(
                "INSERT INTO comments (id, project_id, object_type, object_id, content, author_user_id) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                comment_id,
                project_id,
                object_type,
                object_id,
                content,
                author_user_id,
            )
        return comment_id

    async def get(self, project_id: str, comment_id: str) -> asyncpg.Record | None:
        with db_errors():
            return await self._pool.fetchrow(
                f"SELECT {_COLUMNS} FROM comments WHERE project_id = $1 AND id = $2", project_id, comment_id
            )

    async def page(
        self,
        project_id: str,
        limit: int,
        offset: int,
        *,
        object_type: str | None,
        object_id: str | None,
        author_user_id: str | None,
    ) -> tuple[list[asyncpg.Record], int]:
        """Newest first, with the number of matching comments."""
        return await page(
            self._pool,
            Args(project_id, object_type, object_id, author_user_id),
            select=f"SELECT {_COLUMNS} FROM comments",
            count_from="comments",
            where=_WHERE,
            order_by="created_at DESC, id DESC",
            offset=offset,
            limit=limit,
        )

    async def prompt_exists(self, project_id: str, prompt_id: str) -> bool:
        with db_errors():
            found = await self._pool.fetchval(
                "SELECT 1 FROM prompts WHERE project_id = $1 AND id = $2", project_id, prompt_id
            )
        return found is not None

    async def is_member(self, organization_id: str, user_id: str) -> bool:
        with db_errors():
            found = await self._pool.fetchval(
                "SELECT 1 FROM organization_memberships WHERE org_id = $1 AND user_id = $2", organization_id, user_id
            )
        return found is not None
