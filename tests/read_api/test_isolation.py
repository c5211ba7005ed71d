"""Tenancy and injection: a key sees, counts and deletes only its own project's rows."""

from __future__ import annotations

import base64

import pytest

from spyglass.store.postgres.api_keys import ApiKeys
from tests.harness import Harness
from tests.read_api.conftest import Api
from tests.read_api.seed import insert, observation, score, trace, unique


async def seed(spyglass: Harness, api: Api, user: str) -> dict[str, str]:
    pid = api.project_id
    ids = {"trace": unique("t"), "obs": unique("o"), "score": unique("s"), "session": unique("sess")}
    await insert(
        spyglass.stores.ch,
        trace(pid, ids["trace"], user_id=user, session_id=ids["session"]),
        observation(pid, ids["obs"], ids["trace"]),
        score(pid, ids["score"], "q", trace_id=ids["trace"], value=1.0),
    )
    return ids


LISTS = [
    "/api/public/traces",
    "/api/public/observations",
    "/api/public/v2/observations",
    "/api/public/sessions",
    "/api/public/scores",
    "/api/public/v2/scores",
    "/api/public/v3/scores",
    "/api/public/score-configs",
    "/api/public/comments",
]


async def test_projects_never_see_each_other(spyglass: Harness, api: Api, other_api: Api) -> None:
    mine = await seed(spyglass, api, "shared-user")
    theirs = await seed(spyglass, other_api, "shared-user")
    await other_api.call("POST", "/api/public/score-configs", json={"name": "theirs", "dataType": "NUMERIC"})
    await other_api.call(
        "POST",
        "/api/public/comments",
        json={"objectType": "TRACE", "objectId": theirs["trace"], "content": "theirs"},
    )
    their_ids = set(theirs.values())
    for path in LISTS:
        body = await api.ok(path)
        seen = {item["id"] for item in body["data"]}
        assert not seen & their_ids, path
        if "totalItems" in body.get("meta", {}):
            assert body["meta"]["totalItems"] == len(body["data"]), path
    # Same user id in both projects: the filter still stays in the key's project.
    by_user = await api.ok("/api/public/traces", {"userId": "shared-user"})
    assert [t["id"] for t in by_user["data"]] == [mine["trace"]]
    for path in (
        f"/api/public/traces/{theirs['trace']}",
        f"/api/public/observations/{theirs['obs']}",
        f"/api/public/v2/scores/{theirs['score']}",
        f"/api/public/sessions/{theirs['session']}",
    ):
        assert (await api.get(path))[0] == 404, path
    config_id = (await other_api.ok("/api/public/score-configs"))["data"][0]["id"]
    assert (await api.get(f"/api/public/score-configs/{config_id}"))[0] == 404
    status, _ = await api.call("PATCH", f"/api/public/score-configs/{config_id}", json={"isArchived": True})
    assert status == 404
    comment_id = (await other_api.ok("/api/public/comments"))["data"][0]["id"]
    assert (await api.get(f"/api/public/comments/{comment_id}"))[0] == 404
    # Commenting on another project's trace is as if it did not exist.
    status, _ = await api.call(
        "POST", "/api/public/comments", json={"objectType": "TRACE", "objectId": theirs["trace"], "content": "x"}
    )
    assert status == 404


async def test_deleting_another_projects_trace_or_score_does_nothing(
    spyglass: Harness, api: Api, other_api: Api
) -> None:
    theirs = await seed(spyglass, other_api, "u")
    status, body = await api.call("DELETE", f"/api/public/traces/{theirs['trace']}")
    assert status == 404 and theirs["trace"] in body["message"]  # nothing of ours had that id
    status, _ = await api.call("DELETE", "/api/public/traces", json={"traceIds": [theirs["trace"]]})
    assert status == 404
    status, _ = await api.call("DELETE", f"/api/public/scores/{theirs['score']}")
    assert status == 404
    assert (await other_api.get(f"/api/public/traces/{theirs['trace']}"))[0] == 200
    assert (await other_api.get(f"/api/public/v2/scores/{theirs['score']}"))[0] == 200
    detail = await other_api.ok(f"/api/public/traces/{theirs['trace']}")
    assert len(detail["observations"]) == 1 and len(detail["scores"]) == 1


INJECTIONS = [
    "x' OR '1'='1",
    "x') OR 1=1 --",
    "x'; DROP TABLE traces; --",
    "{p:String}",
    "\\' OR 1=1 #",
]


@pytest.mark.parametrize("payload", INJECTIONS)
async def test_injection_attempts_are_plain_values(spyglass: Harness, api: Api, other_api: Api, payload: str) -> None:
    await seed(spyglass, api, "alice")
    await seed(spyglass, other_api, "bob")
    for path, params in (
        ("/api/public/traces", {"userId": payload}),
        ("/api/public/traces", [("tags", payload)]),
        ("/api/public/observations", {"name": payload}),
        ("/api/public/v2/observations", {"sessionId": payload}),
        ("/api/public/v2/scores", {"scoreIds": payload}),
        ("/api/public/v3/scores", {"name": payload}),
        ("/api/public/sessions", [("environment", payload)]),
        ("/api/public/comments", {"objectType": "TRACE", "objectId": payload}),
        (
            "/api/public/traces",
            {"filter": f'[{{"type":"stringObject","column":"metadata","key":"{payload}","operator":"=","value":"v"}}]'},
        ),
        (
            "/api/public/observations",
            {"filter": f'[{{"type":"string","column":"name","operator":"contains","value":"{payload}"}}]'},
        ),
    ):
        status, body = await api.get(path, params)
        if status == 400:  # e.g. a payload that breaks the filter's JSON; never a 500
            continue
        assert status == 200, (path, body)
        assert body["data"] == [], (path, params)
    # The tables are still there and the other project is untouched.
    assert (await other_api.ok("/api/public/traces"))["meta"]["totalItems"] == 1


async def test_injection_through_filter_column_and_order_is_rejected(api: Api) -> None:
    for params in (
        {"filter": '[{"type":"string","column":"name = name OR 1=1 --","operator":"=","value":"x"}]'},
        {"filter": '[{"type":"string","column":"name","operator":"= \'\' OR 1=1 --","value":"x"}]'},
        {"orderBy": "timestamp; DROP TABLE traces"},
        {"orderBy": "timestamp.desc, (SELECT 1)"},
    ):
        status, body = await api.get("/api/public/traces", params)
        assert status == 400, (params, body)


async def test_organization_key_cannot_read_project_data(spyglass: Harness, api: Api) -> None:
    org_id = await spyglass.stores.pg.fetchval("SELECT org_id FROM projects WHERE id = $1", api.project_id)
    key = await ApiKeys(spyglass.stores.pg, spyglass.stores.cfg.salt).create_org_key(org_id)
    header = "Basic " + base64.b64encode(f"{key.public_key}:{key.secret_key}".encode()).decode()
    for path in (
        "/api/public/traces",
        "/api/public/v2/scores",
        "/api/public/comments",
        "/api/public/projects",
        "/api/public/models",
        "/api/public/media/some-media-id",
        "/api/public/metrics/daily",
    ):
        status, body = await api.call("GET", path, headers={"Authorization": header})
        assert status == 403, (path, body)
        assert "organization key" in body["message"], (path, body)
