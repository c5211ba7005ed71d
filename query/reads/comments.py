"""Comments on traces, observations, sessions and prompts: request checks and answers (the
rows are `store/postgres/comments_repo.py`'s)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from spyglass.collector.http import ApiError, bad_request, not_found
from spyglass.query.reads import live
from spyglass.query.reads.params import Page
from spyglass.query.reads.sql import STRING, Params
from spyglass.query.reads.values import iso_dt
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.postgres.comments_repo import CommentsRepo

OBJECT_TYPES = ("TRACE", "OBSERVATION", "SESSION", "PROMPT")
MAX_CONTENT = 5000


def _field(name: str, message: str) -> ApiError:
    return bad_request(f"Invalid request body: '{name}' {message}")


class NewComment:
    def __init__(self, body: Mapping[str, Any], project_id: str) -> None:
        claimed = body.get("projectId")
        if claimed is not None and claimed != project_id:
            raise _field("projectId", "does not match the project of the API key")
        object_type = body.get("objectType")
        if not isinstance(object_type, str) or object_type.upper() not in OBJECT_TYPES:
            raise _field("objectType", f"must be one of {', '.join(OBJECT_TYPES)}, got {object_type!r}")
        self.object_type = object_type.upper()
        object_id = body.get("objectId")
        if not isinstance(object_id, str) or not object_id:
            raise _field("objectId", "is required and must be a non-empty string")
        self.object_id = object_id
        content = body.get("content")
        if not isinstance(content, str) or not content.strip():
            raise _field("content", "is required and must be a non-empty string")
        if len(content) > MAX_CONTENT:
            raise _field("content", f"must be at most {MAX_CONTENT} characters, got {len(content)}")
        self.content = content
        author = body.get("authorUserId")
        if author is not None and not isinstance(author, str):
            raise _field("authorUserId", "must be a string")
        self.author_user_id: str | None = author


async def object_exists(ch: ClickHouse, pg: asyncpg.Pool, project_id: str, object_type: str, object_id: str) -> bool:
    """Whether the commented object is live in the project (comments cannot dangle at creation)."""
    if object_type == "PROMPT":
        return await CommentsRepo(pg).prompt_exists(project_id, object_id)
    if object_type != "SESSION":
        table = "traces" if object_type == "TRACE" else "observations"
        return await live.get_live(ch, table, "id, is_deleted", project_id, object_id) is not None
    params = Params(p=project_id)
    bound = params.bind(object_id, STRING)
    sql = f"SELECT count() AS n FROM ({live.live_trace_ids([f'session_id = {bound}'])})"
    rows = await ch.rows(sql, params.values)
    return bool(rows and rows[0]["n"])


async def author_is_member(pg: asyncpg.Pool, organization_id: str, user_id: str) -> bool:
    return await CommentsRepo(pg).is_member(organization_id, user_id)


async def create(pg: asyncpg.Pool, project_id: str, c: NewComment) -> str:
    return await CommentsRepo(pg).create(project_id, c.object_type, c.object_id, c.content, c.author_user_id)


async def get(pg: asyncpg.Pool, project_id: str, comment_id: str) -> dict[str, Any]:
    row = await CommentsRepo(pg).get(project_id, comment_id)
    if row is None:
        raise not_found("Comment not found within authorized project")
    return comment_json(row)


async def page(
    pg: asyncpg.Pool,
    project_id: str,
    pg_page: Page,
    *,
    object_type: str | None,
    object_id: str | None,
    author_user_id: str | None,
) -> tuple[list[dict[str, Any]], int]:
    rows, total = await CommentsRepo(pg).page(
        project_id,
        pg_page.limit,
        pg_page.offset,
        object_type=object_type,
        object_id=object_id,
        author_user_id=author_user_id,
    )
    return [comment_json(r) for r in rows], total


def comment_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "projectId": row["project_id"],
        "createdAt": iso_dt(row["created_at"]),
        "updatedAt": iso_dt(row["updated_at"]),
        "objectType": row["object_type"],
        "objectId": row["object_id"],
        "content": row["content"],
        "authorUserId": row["author_user_id"],
    }
