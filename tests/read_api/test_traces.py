"""GET /api/public/traces and /traces/{id}: shapes, filters, paging, computed fields, errors."""

from __future__ import annotations

import pytest

from tests.harness import Harness
from tests.read_api import contract
from tests.read_api.conftest import Api
from tests.read_api.seed import insert, iso, observation, score, trace, unique


async def seed_three(spyglass: Harness, api: Api) -> dict[str, str]:
    """Three traces an hour apart with distinct attributes, children on the middle one."""
    pid = api.project_id
    ids = {k: unique(k) for k in ("old", "mid", "new")}
    await insert(
        spyglass.stores.ch,
        trace(pid, ids["old"], at=0, name="chat", user_id="alice", tags=["a"], environment="dev", release="r1"),
        trace(
            pid,
            ids["mid"],
            at=3600,
            name="chat",
            user_id="bob",
            session_id="s-1",
            tags=["a", "b"],
            version="v2",
            input='{"q": "hi"}',
            output="plain text",
            metadata={"team": "ml", "n": "3"},
        ),
        trace(pid, ids["new"], at=7200, name="search", user_id="alice", tags=["b"], environment="prod"),
        observation(pid, unique("o"), ids["mid"], start=3600, end=3601.5, total_cost=0.25),
        observation(
            pid,
            unique("o"),
            ids["mid"],
            start=3600.5,
            end=3604,
            type="GENERATION",
            total_cost=0.5,
            usage_details={"input": 10, "output": 5, "total": 15},
            cost_details={"input": 0.2, "output": 0.3, "total": 0.5},
        ),
        score(pid, unique("s"), "quality", at=3700, trace_id=ids["mid"], value=0.9),
    )
    return ids


async def test_list_shape_parses_and_orders_newest_first(spyglass: Harness, api: Api) -> None:
    ids = await seed_three(spyglass, api)
    body = await api.ok("/api/public/traces")
    parsed = contract.parse(contract.Traces, body)
    assert [t.id for t in parsed.data] == [ids["new"], ids["mid"], ids["old"]]
    assert body["meta"] == {"page": 1, "limit": 50, "totalItems": 3, "totalPages": 1}
    mid = next(t for t in body["data"] if t["id"] == ids["mid"])
    assert mid["htmlPath"] == f"/project/{api.project_id}/traces/{ids['mid']}"
    assert mid["timestamp"] == iso(3600)
    assert mid["input"] == {"q": "hi"} and mid["output"] == "plain text"
    assert mid["metadata"] == {"team": "ml", "n": 3}
    assert mid["sessionId"] == "s-1" and mid["version"] == "v2" and mid["release"] is None
    assert len(mid["observations"]) == 2 and len(mid["scores"]) == 1
    # Latency spans the first start to the last end; cost sums the observations.
    assert mid["latency"] == pytest.approx(4.0)
    assert mid["totalCost"] == pytest.approx(0.75)
    new = next(t for t in body["data"] if t["id"] == ids["new"])
    assert new["observations"] == [] and new["scores"] == [] and new["latency"] == 0 and new["totalCost"] == 0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"userId": "alice"}, ["new", "old"]),
        ({"name": "chat"}, ["mid", "old"]),
        ({"sessionId": "s-1"}, ["mid"]),
        ([("tags", "a"), ("tags", "b")], ["mid"]),
        ([("tags", "b")], ["new", "mid"]),
        ([("environment", "dev"), ("environment", "prod")], ["new", "old"]),
        ({"version": "v2"}, ["mid"]),
        ({"release": "r1"}, ["old"]),
        ({"fromTimestamp": "2026-01-01T01:00:00Z"}, ["new", "mid"]),
        ({"toTimestamp": "2026-01-01T01:00:00.000Z"}, ["old"]),
        ({"fromTimestamp": "2026-01-01T00:30:00+00:00", "toTimestamp": "2026-01-01T01:30:00Z"}, ["mid"]),
        ({"orderBy": "timestamp.asc"}, ["old", "mid", "new"]),
        ({"orderBy": "name.desc", "userId": "alice"}, ["new", "old"]),
        ({"filter": '[{"type":"stringObject","column":"metadata","key":"team","operator":"=","value":"ml"}]'}, ["mid"]),
        ({"filter": '[{"type":"arrayOptions","column":"tags","operator":"none of","value":["a"]}]'}, ["new"]),
    ],
)
async def test_list_filters(spyglass: Harness, api: Api, params: object, expected: list[str]) -> None:
    ids = await seed_three(spyglass, api)
    body = await api.ok("/api/public/traces", params)
    assert [t["id"] for t in body["data"]] == [ids[k] for k in expected]
    assert body["meta"]["totalItems"] == len(expected)


async def test_pagination(spyglass: Harness, api: Api) -> None:
    pid = api.project_id
    ids = [unique("p") for _ in range(5)]
    await insert(spyglass.stores.ch, *(trace(pid, t, at=i) for i, t in enumerate(ids)))
    pages = [await api.ok("/api/public/traces", {"limit": 2, "page": n}) for n in (1, 2, 3, 4)]
    assert [[t["id"] for t in p["data"]] for p in pages] == [ids[4:2:-1], ids[2:0:-1], ids[:1], []]
    assert pages[0]["meta"] == {"page": 1, "limit": 2, "totalItems": 5, "totalPages": 3}


async def test_field_groups(spyglass: Harness, api: Api) -> None:
    ids = await seed_three(spyglass, api)
    body = await api.ok("/api/public/traces", {"fields": "core,scores", "sessionId": "s-1"})
    (item,) = body["data"]
    assert item["id"] == ids["mid"]
    assert item["input"] is None and item["output"] is None
    assert item["observations"] == [] and len(item["scores"]) == 1
    # Left-out metrics read -1, so clients can tell "not requested" from zero.
    assert item["latency"] == -1 and item["totalCost"] == -1


async def test_newest_version_wins_and_old_values_do_not_match(spyglass: Harness, api: Api) -> None:
    pid = api.project_id
    tid = unique("v")
    old = trace(pid, tid, name="before", user_id="u-old", event_ts=1000.0)
    new = trace(pid, tid, name="after", user_id="u-new", event_ts=2000.0)
    await insert(spyglass.stores.ch, old, new)
    body = await api.ok("/api/public/traces")
    assert [(t["id"], t["name"]) for t in body["data"]] == [(tid, "after")]
    assert (await api.ok("/api/public/traces", {"userId": "u-old"}))["data"] == []
    assert [t["id"] for t in (await api.ok("/api/public/traces", {"userId": "u-new"}))["data"]] == [tid]


async def test_get_trace_full_details(spyglass: Harness, api: Api) -> None:
    ids = await seed_three(spyglass, api)
    await insert(
        spyglass.stores.ch,
        score(api.project_id, unique("s"), "note", at=3700, trace_id=ids["mid"], data_type="TEXT", string_value="ok"),
    )
    body = await api.ok(f"/api/public/traces/{ids['mid']}")
    parsed = contract.parse(contract.TraceWithFullDetails, body)
    assert parsed.id == ids["mid"] and parsed.session_id == "s-1"
    assert [o.type for o in parsed.observations] == ["SPAN", "GENERATION"]
    gen = parsed.observations[1]
    assert gen.usage is not None and (gen.usage.input, gen.usage.output, gen.usage.total) == (10, 5, 15)
    assert gen.calculated_total_cost == pytest.approx(0.5) and gen.latency == pytest.approx(3.5)
    # TEXT scores cannot be expressed in the legacy score shape; numeric ones are there.
    assert [s.name for s in parsed.scores] == ["quality"]
    # The detail computes latency and cost the same way the list does.
    listed = next(t for t in (await api.ok("/api/public/traces"))["data"] if t["id"] == ids["mid"])
    assert body["latency"] == listed["latency"] == pytest.approx(4.0)
    assert body["totalCost"] == listed["totalCost"] == pytest.approx(0.75)


async def test_get_unknown_trace_is_404(api: Api) -> None:
    status, body = await api.get("/api/public/traces/does-not-exist")
    assert status == 404
    assert body["error"] == "NotFoundError" and "Trace not found" in body["message"]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": "101"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"page": "0"}, "page"),
        ({"page": "x"}, "page"),
        ({"fromTimestamp": "yesterday"}, "fromTimestamp"),
        ({"toTimestamp": "2026-13-01T00:00:00Z"}, "toTimestamp"),
        ({"orderBy": "secret.asc"}, "orderBy"),
        ({"orderBy": "timestamp.sideways"}, "orderBy"),
        ({"filter": "[{not json"}, "filter"),
        ({"filter": '[{"type":"string","column":"password","operator":"=","value":"x"}]'}, "filter"),
        ({"filter": '[{"type":"string","column":"name","operator":"drop","value":"x"}]'}, "filter"),
    ],
)
async def test_bad_parameters_are_400_naming_the_parameter(api: Api, params: dict[str, str], name: str) -> None:
    status, body = await api.get("/api/public/traces", params)
    assert status == 400, body
    assert f"'{name}'" in body["message"]
    assert body["error"] == "InvalidRequestError"


async def test_requires_auth(api: Api) -> None:
    status, _ = await api.call("GET", "/api/public/traces", headers={})
    assert status == 401
    bad = {"Authorization": "Basic " + "cGstbGYteDpzay1sZi15"}  # pk-lf-x:sk-lf-y
    status, _ = await api.call("GET", "/api/public/traces", headers=bad)
    assert status == 401


async def test_trace_detail_honours_fields(spyglass: Harness, api: Api) -> None:
    ids = await seed_three(spyglass, api)
    full = await api.ok(f"/api/public/traces/{ids['mid']}")
    assert full["input"] == {"q": "hi"} and len(full["observations"]) == 2 and full["latency"] > 0
    core = await api.ok(f"/api/public/traces/{ids['mid']}", {"fields": "core"})
    assert core["id"] == ids["mid"] and core["name"] == "chat"
    assert core["input"] is None and core["observations"] == [] and core["scores"] == []
    assert core["latency"] == -1 and core["totalCost"] == -1
    some = await api.ok(f"/api/public/traces/{ids['mid']}", {"fields": "core,io,observations"})
    assert some["input"] == {"q": "hi"} and len(some["observations"]) == 2 and some["totalCost"] == -1
