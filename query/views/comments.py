"""/api/public/comments: create, list, get."""

from __future__ import annotations

from aiohttp import web

from spyglass.collector.http import STORES, bad_request, json_response, not_found
from spyglass.query.reads import comments
from spyglass.query.reads.params import Query, invalid, json_body
from spyglass.query.reads.scope import project_scope


async def create_comment(request: web.Request) -> web.Response:
    scope = await project_scope(request)
    pid = scope.project_id
    assert pid is not None
    new = comments.NewComment(await json_body(request), pid)
    stores = request.app[STORES]
    if not await comments.object_exists(stores.ch, stores.pg, pid, new.object_type, new.object_id):
        raise not_found(f"No {new.object_type} with id {new.object_id} in this project to comment on")
    if new.author_user_id is not None and not await comments.author_is_member(
        stores.pg, scope.organization_id, new.author_user_id
    ):
        raise bad_request(
            "Invalid request body: 'authorUserId' must be a member of the organization that owns the project"
        )
    return json_response({"id": await comments.create(stores.pg, pid, new)})


async def list_comments(request: web.Request) -> web.Response:
    scope = await project_scope(request)
    assert scope.project_id is not None
    q = Query(request.query)
    page = q.page()
    object_type = q.enum("objectType", comments.OBJECT_TYPES, upper=True)
    object_id = q.string("objectId")
    if object_id is not None and object_type is None:
        raise invalid("objectType", "is required when objectId is given")
    rows, total = await comments.page(
        request.app[STORES].pg,
        scope.project_id,
        page,
        object_type=object_type,
        object_id=object_id,
        author_user_id=q.string("authorUserId"),
    )
    return json_response({"data": rows, "meta": page.meta(total)})


async def get_comment(request: web.Request) -> web.Response:
    scope = await project_scope(request)
    assert scope.project_id is not None
    return json_response(await comments.get(request.app[STORES].pg, scope.project_id, request.match_info["commentId"]))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/public/comments", create_comment)
    app.router.add_get("/api/public/comments", list_comments)
    app.router.add_get("/api/public/comments/{commentId}", get_comment)
