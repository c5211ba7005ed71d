"""/api/public/comments through the installed SDK's client."""

from __future__ import annotations

import pytest
from langfuse.api.core.api_error import ApiError

from spyglass.store.postgres.ids import new_id
from tests.harness import Harness
from tests.read_api.conftest import Api
from tests.read_api.seed import insert, observation, trace, unique


async def test_create_list_get(spyglass: Harness, api: Api) -> None:
    pid = api.project_id
    tid, oid = unique("t"), unique("o")
    await insert(spyglass.stores.ch, trace(pid, tid, session_id="chat-1"), observation(pid, oid, tid))
    client = api.sdk()
    on_trace = await client.comments.create(project_id=pid, object_type="TRACE", object_id=tid, content="**look**")
    on_obs = await client.comments.create(project_id=pid, object_type="OBSERVATION", object_id=oid, content="2")
    on_session = await client.comments.create(project_id=pid, object_type="session", object_id="chat-1", content="3")

    got = await client.comments.get_by_id(on_trace.id)
    assert (got.object_type, got.object_id, got.content, got.project_id) == ("TRACE", tid, "**look**", pid)
    everything = await client.comments.get()
    assert [c.id for c in everything.data] == [on_session.id, on_obs.id, on_trace.id]
    assert everything.meta.total_items == 3
    only_obs = await client.comments.get(object_type="OBSERVATION", object_id=oid)
    assert [c.id for c in only_obs.data] == [on_obs.id]
    sessions = await client.comments.get(object_type="SESSION")
    assert [c.object_type for c in sessions.data] == ["SESSION"]
    paged = await client.comments.get(limit=1, page=3)
    assert [c.id for c in paged.data] == [on_trace.id] and paged.meta.total_pages == 3


async def test_author_must_belong_to_the_organization(spyglass: Harness, api: Api) -> None:
    pid = api.project_id
    tid = unique("t")
    await insert(spyglass.stores.ch, trace(pid, tid))
    body = {"projectId": pid, "objectType": "TRACE", "objectId": tid, "content": "hi", "authorUserId": "stranger"}
    status, err = await api.call("POST", "/api/public/comments", json=body)
    assert status == 400 and "'authorUserId'" in err["message"]
    # A member of the key's organization may be named as author.
    pool = spyglass.stores.pg
    org_id = await pool.fetchval("SELECT org_id FROM projects WHERE id = $1", pid)
    user_id = new_id()
    await pool.execute("INSERT INTO users (id, email) VALUES ($1, $2)", user_id, f"{user_id}@example.com")
    await pool.execute(
        "INSERT INTO organization_memberships (id, org_id, user_id, role) VALUES ($1, $2, $3, 'MEMBER')",
        new_id(),
        org_id,
        user_id,
    )
    status, created = await api.call("POST", "/api/public/comments", json={**body, "authorUserId": user_id})
    assert status == 200, created
    listed = await api.ok("/api/public/comments", {"authorUserId": user_id})
    assert [c["id"] for c in listed["data"]] == [created["id"]]


async def test_comment_on_missing_object_is_404(api: Api) -> None:
    with pytest.raises(ApiError) as info:
        await api.sdk().comments.create(project_id=api.project_id, object_type="TRACE", object_id="nope", content="x")
    assert info.value.status_code == 404
    assert (await api.ok("/api/public/comments"))["data"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"objectType": "DATASET", "objectId": "x", "content": "c"}, "objectType"),
        ({"objectType": "TRACE", "content": "c"}, "objectId"),
        ({"objectType": "TRACE", "objectId": "x", "content": ""}, "content"),
        ({"objectType": "TRACE", "objectId": "x", "content": "c" * 5001}, "content"),
        ({"projectId": "someone-else", "objectType": "TRACE", "objectId": "x", "content": "c"}, "projectId"),
    ],
)
async def test_create_validation(api: Api, body: dict[str, object], field: str) -> None:
    status, err = await api.call("POST", "/api/public/comments", json=body)
    assert status == 400, err
    assert f"'{field}'" in err["message"]


async def test_list_validation_and_get_404(api: Api) -> None:
    status, err = await api.get("/api/public/comments", {"objectId": "x"})
    assert status == 400 and "'objectType'" in err["message"]
    status, err = await api.get("/api/public/comments", {"objectType": "PLANET"})
    assert status == 400 and "'objectType'" in err["message"]
    status, err = await api.get("/api/public/comments/nope")
    assert status == 404 and "Comment not found" in err["message"]
