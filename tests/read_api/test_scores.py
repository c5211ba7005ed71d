"""Scores: GET /scores, /v2/scores (+ by id), /v3/scores, DELETE /scores/{id}."""

from __future__ import annotations

import pytest
from langfuse.api.commons.types.score import Score
from langfuse.api.core.api_error import ApiError

from tests.harness import Harness
from tests.read_api import contract
from tests.read_api.conftest import Api
from tests.read_api.seed import insert, score, trace, unique


async def seed(spyglass: Harness, api: Api) -> dict[str, str]:
    pid = api.project_id
    ids = {k: unique(k) for k in ("t1", "t2", "num", "bool", "cat", "text", "corr", "sess", "run")}
    await insert(
        spyglass.stores.ch,
        trace(pid, ids["t1"], user_id="alice", tags=["x", "y"], session_id="s1", environment="prod"),
        trace(pid, ids["t2"], user_id="bob", tags=["x"]),
        score(pid, ids["num"], "accuracy", at=10, trace_id=ids["t1"], value=0.75, comment="good", metadata={"m": "1"}),
        score(
            pid,
            ids["bool"],
            "correct",
            at=20,
            trace_id=ids["t1"],
            observation_id="o1",
            value=1.0,
            data_type="BOOLEAN",
            string_value="True",
            source="ANNOTATION",
            author_user_id="u1",
            queue_id="q1",
        ),
        score(
            pid,
            ids["cat"],
            "tone",
            at=30,
            trace_id=ids["t2"],
            value=2.0,
            data_type="CATEGORICAL",
            string_value="friendly",
            config_id="cfg-1",
        ),
        score(pid, ids["text"], "feedback", at=40, trace_id=ids["t2"], data_type="TEXT", string_value="too long"),
        score(
            pid,
            ids["corr"],
            "fix",
            at=50,
            trace_id=ids["t1"],
            data_type="CORRECTION",
            long_string_value="the corrected answer",
            source="EVAL",
        ),
        score(pid, ids["sess"], "session-quality", at=60, session_id="s1", value=3.0),
        score(pid, ids["run"], "run-score", at=70, dataset_run_id="run-1", value=0.1, environment="ci"),
    )
    return ids


async def test_v2_list_every_data_type_parses(spyglass: Harness, api: Api) -> None:
    ids = await seed(spyglass, api)
    body = await api.ok("/api/public/v2/scores")
    parsed = contract.parse(contract.GetScoresResponse, body)
    order = ["run", "sess", "corr", "text", "cat", "bool", "num"]
    assert [s.id for s in parsed.data] == [ids[k] for k in order]
    by_id = {s["id"]: s for s in body["data"]}
    assert by_id[ids["num"]]["value"] == 0.75 and "stringValue" not in by_id[ids["num"]]
    assert by_id[ids["bool"]]["value"] == 1 and by_id[ids["bool"]]["stringValue"] == "True"
    assert by_id[ids["cat"]]["stringValue"] == "friendly" and by_id[ids["cat"]]["configId"] == "cfg-1"
    assert by_id[ids["text"]]["stringValue"] == "too long" and "value" not in by_id[ids["text"]]
    assert by_id[ids["corr"]]["stringValue"] == "the corrected answer"
    assert by_id[ids["num"]]["metadata"] == {"m": 1} and by_id[ids["num"]]["comment"] == "good"
    assert by_id[ids["num"]]["trace"] == {
        "userId": "alice",
        "tags": ["x", "y"],
        "environment": "prod",
        "sessionId": "s1",
    }
    assert by_id[ids["sess"]]["trace"] is None and by_id[ids["sess"]]["sessionId"] == "s1"
    # v1 (not in the Fern spec) answers the same shape.
    assert (await api.ok("/api/public/scores"))["data"] == body["data"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"name": "tone"}, ["cat"]),
        ({"dataType": "BOOLEAN"}, ["bool"]),
        ({"source": "EVAL"}, ["corr"]),
        ({"userId": "alice"}, ["corr", "bool", "num"]),
        ([("traceTags", "x"), ("traceTags", "y")], ["corr", "bool", "num"]),
        ({"traceId": "@t2"}, ["text", "cat"]),
        ({"observationId": "o1,o9"}, ["bool"]),
        ({"scoreIds": "@num,@cat"}, ["cat", "num"]),
        ({"sessionId": "s1"}, ["sess"]),
        ({"datasetRunId": "run-1"}, ["run"]),
        ({"configId": "cfg-1"}, ["cat"]),
        ({"queueId": "q1"}, ["bool"]),
        ([("environment", "ci")], ["run"]),
        ({"operator": ">=", "value": "2"}, ["sess", "cat"]),
        ({"operator": "<", "value": "0.5", "dataType": "NUMERIC"}, ["run"]),
        ({"fromTimestamp": "2026-01-01T00:00:30Z", "toTimestamp": "2026-01-01T00:00:50Z"}, ["text", "cat"]),
        ({"filter": '[{"type":"stringObject","column":"metadata","key":"m","operator":"=","value":"1"}]'}, ["num"]),
    ],
)
async def test_v2_filters(spyglass: Harness, api: Api, params: object, expected: list[str]) -> None:
    ids = await seed(spyglass, api)
    if isinstance(params, dict):  # "@key" stands for the seeded id of that key
        params = {k: ",".join(ids[p[1:]] if p.startswith("@") else p for p in v.split(",")) for k, v in params.items()}
    body = await api.ok("/api/public/v2/scores", params)
    assert [s["id"] for s in body["data"]] == [ids[k] for k in expected]
    assert body["meta"]["totalItems"] == len(expected)


async def test_get_by_id_parses_with_sdk_score_model(spyglass: Harness, api: Api) -> None:
    from langfuse.api.core.pydantic_utilities import parse_obj_as

    ids = await seed(spyglass, api)
    for key, kind in (("num", "NUMERIC"), ("bool", "BOOLEAN"), ("cat", "CATEGORICAL"), ("text", "TEXT")):
        for prefix in ("/api/public/v2", "/api/public"):
            body = await api.ok(f"{prefix}/scores/{ids[key]}")
            assert parse_obj_as(Score, body).data_type == kind  # type: ignore[arg-type]
    status, err = await api.get("/api/public/v2/scores/missing")
    assert status == 404 and "Score not found" in err["message"]


async def test_v3_via_sdk(spyglass: Harness, api: Api) -> None:
    ids = await seed(spyglass, api)
    client = api.sdk()
    page = await client.scores.get_many(fields="details,subject,annotation")
    by_id = {s.id: s for s in page.data}
    assert len(by_id) == 7 and page.meta.limit == 50 and page.meta.cursor is None
    assert by_id[ids["bool"]].value is True  # BOOLEAN is a real boolean in v3
    assert by_id[ids["num"]].value == 0.75 and by_id[ids["cat"]].value == "friendly"
    assert by_id[ids["corr"]].value == "the corrected answer"
    subject = by_id[ids["bool"]].subject
    assert subject is not None and subject.kind == "observation" and subject.trace_id == ids["t1"]
    assert by_id[ids["sess"]].subject.kind == "session" and by_id[ids["run"]].subject.kind == "experiment"
    assert by_id[ids["bool"]].author_user_id == "u1" and by_id[ids["num"]].comment == "good"
    bare = await client.scores.get_many(id=ids["num"])
    assert bare.data[0].subject is None and bare.data[0].comment is None  # groups not requested


async def test_v3_filters_and_cursor(spyglass: Harness, api: Api) -> None:
    ids = await seed(spyglass, api)
    client = api.sdk()
    numeric = await client.scores.get_many(data_type="numeric", value_min=0.5, value_max=5)
    assert {s.id for s in numeric.data} == {ids["num"], ids["sess"]}
    truthy = await client.scores.get_many(data_type="BOOLEAN", value="true")
    assert [s.id for s in truthy.data] == [ids["bool"]]
    runs = await client.scores.get_many(experiment_id="run-1")
    assert [s.id for s in runs.data] == [ids["run"]]
    seen, cursor = [], None
    while True:
        page = await client.scores.get_many(limit=3, cursor=cursor)
        seen.extend(s.id for s in page.data)
        cursor = page.meta.cursor
        if cursor is None:
            break
    assert seen == [ids[k] for k in ["run", "sess", "corr", "text", "cat", "bool", "num"]]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"fields": "details,everything"}, "fields"),
        ({"value": "1"}, "value"),
        ({"valueMin": "1", "dataType": "BOOLEAN"}, "valueMin"),
        ({"dataType": "BOOLEAN", "value": "yes"}, "value"),
        ({"traceId": "t", "sessionId": "s"}, "traceId"),
        ({"observationId": "o"}, "observationId"),
        ({"limit": "101"}, "limit"),
        ({"cursor": "%%%"}, "cursor"),
    ],
)
async def test_v3_bad_parameters(api: Api, params: dict[str, str], name: str) -> None:
    status, body = await api.get("/api/public/v3/scores", params)
    assert status == 400, body
    assert f"'{name}'" in body["message"]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"dataType": "FLOAT"}, "dataType"),
        ({"source": "HUMAN"}, "source"),
        ({"operator": ">"}, "value"),
        ({"operator": "~", "value": "1"}, "operator"),
        ({"value": "abc", "operator": "="}, "value"),
        ({"userId": "u", "fields": "score"}, "fields"),
        ({"limit": "500"}, "limit"),
    ],
)
async def test_v2_bad_parameters(api: Api, params: dict[str, str], name: str) -> None:
    status, body = await api.get("/api/public/v2/scores", params)
    assert status == 400, body
    assert f"'{name}'" in body["message"]


async def test_delete_score(spyglass: Harness, api: Api) -> None:
    ids = await seed(spyglass, api)
    client = api.sdk()
    await client.scores.delete(ids["num"])
    status, _ = await api.get(f"/api/public/v2/scores/{ids['num']}")
    assert status == 404
    listed = await api.ok("/api/public/v2/scores")
    assert ids["num"] not in {s["id"] for s in listed["data"]} and listed["meta"]["totalItems"] == 6
    trace_body = await api.ok("/api/public/traces", {"userId": "alice"})
    assert ids["num"] not in trace_body["data"][0]["scores"]
    with pytest.raises(ApiError) as info:
        await client.scores.delete(ids["num"])
    assert info.value.status_code == 404
