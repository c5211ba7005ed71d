"""GET /api/public/observations (v1), /observations/{id} and /v2/observations."""

from __future__ import annotations

import base64

import pytest
from langfuse.api.core.api_error import ApiError

from tests.harness import Harness
from tests.read_api import contract
from tests.read_api.conftest import Api
from tests.read_api.seed import insert, iso, observation, trace, unique


async def seed(spyglass: Harness, api: Api) -> dict[str, str]:
    pid = api.project_id
    ids = {k: unique(k) for k in ("t1", "t2", "root", "gen", "event", "other")}
    await insert(
        spyglass.stores.ch,
        trace(pid, ids["t1"], at=0, user_id="alice", session_id="sess-a", name="chat", tags=["x"], release="r9"),
        trace(pid, ids["t2"], at=100, user_id="bob"),
        observation(pid, ids["root"], ids["t1"], start=0, end=10, name="agent", metadata={"k": "v"}),
        observation(
            pid,
            ids["gen"],
            ids["t1"],
            start=1,
            end=4,
            completion_start_time=1.5 + 1_767_225_600.0,
            type="GENERATION",
            name="llm",
            parent_observation_id=ids["root"],
            level="WARNING",
            status_message="slow",
            version="v1",
            provided_model_name="gpt-4o",
            internal_model_id="m-gpt-4o",
            model_parameters='{"temperature": 0.2, "response_format": {"type": "json"}}',
            input='[{"role": "user", "content": "hi"}]',
            output="hello",
            usage_details={"input": 100, "input_cached_tokens": 20, "output": 30, "total": 150},
            cost_details={"input": 0.001, "output": 0.002, "total": 0.003},
            total_cost=0.003,
            prompt_name="p",
            prompt_version=3,
            environment="prod",
        ),
        observation(
            pid, ids["event"], ids["t1"], start=5, type="EVENT", name="note", parent_observation_id=ids["root"]
        ),
        observation(pid, ids["other"], ids["t2"], start=100, end=101, name="agent"),
    )
    return ids


async def test_v1_list_parses_and_is_newest_first(spyglass: Harness, api: Api) -> None:
    ids = await seed(spyglass, api)
    body = await api.ok("/api/public/observations")
    parsed = contract.parse(contract.ObservationsViews, body)
    assert [o.id for o in parsed.data] == [ids["other"], ids["event"], ids["gen"], ids["root"]]
    assert body["meta"]["totalItems"] == 4
    gen = next(o for o in body["data"] if o["id"] == ids["gen"])
    assert gen["startTime"] == iso(1) and gen["endTime"] == iso(4) and gen["completionStartTime"] == iso(1.5)
    assert gen["latency"] == pytest.approx(3.0) and gen["timeToFirstToken"] == pytest.approx(0.5)
    assert gen["usage"] == {"input": 120, "output": 30, "total": 150, "unit": "TOKENS"}
    assert gen["calculatedTotalCost"] == pytest.approx(0.003) and gen["calculatedInputCost"] == pytest.approx(0.001)
    assert gen["input"] == [{"role": "user", "content": "hi"}] and gen["output"] == "hello"
    # Nested parameters come back as JSON text: the legacy shape only types flat values.
    assert gen["modelParameters"] == {"temperature": 0.2, "response_format": '{"type":"json"}'}
    assert gen["parentObservationId"] == ids["root"] and gen["level"] == "WARNING"
    assert gen["modelId"] == gen["internalModelId"] == "m-gpt-4o"
    assert gen["promptName"] == "p" and gen["promptVersion"] == 3 and gen["model"] == "gpt-4o"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"type": "GENERATION"}, ["gen"]),
        ({"name": "agent"}, ["other", "root"]),
        ({"userId": "bob"}, ["other"]),
        ({"level": "WARNING"}, ["gen"]),
        ({"version": "v1"}, ["gen"]),
        ({"environment": "prod"}, ["gen"]),
        ({"fromStartTime": "2026-01-01T00:00:01Z", "toStartTime": "2026-01-01T00:00:05Z"}, ["gen"]),
        ({"filter": '[{"type":"number","column":"latency","operator":">=","value":5}]'}, ["root"]),
        ({"filter": '[{"type":"stringObject","column":"metadata","key":"k","operator":"=","value":"v"}]'}, ["root"]),
        (
            {"filter": '[{"type":"string","column":"traceName","operator":"=","value":"chat"}]'},
            ["event", "gen", "root"],
        ),
        ({"filter": '[{"type":"null","column":"endTime","operator":"is null"}]'}, ["event"]),
        # A filter replaces the individual parameters, as upstream documents.
        ({"type": "SPAN", "filter": '[{"type":"string","column":"type","operator":"=","value":"EVENT"}]'}, ["event"]),
    ],
)
async def test_v1_filters(spyglass: Harness, api: Api, params: dict[str, str], expected: list[str]) -> None:
    ids = await seed(spyglass, api)
    body = await api.ok("/api/public/observations", params)
    assert [o["id"] for o in body["data"]] == [ids[k] for k in expected]
    assert body["meta"]["totalItems"] == len(expected)


async def test_v1_parent_and_trace_filters(spyglass: Harness, api: Api) -> None:
    ids = await seed(spyglass, api)
    children = await api.ok("/api/public/observations", {"parentObservationId": ids["root"]})
    assert sorted(o["id"] for o in children["data"]) == sorted([ids["gen"], ids["event"]])
    of_trace = await api.ok("/api/public/observations", {"traceId": ids["t2"]})
    assert [o["id"] for o in of_trace["data"]] == [ids["other"]]


async def test_v1_get_and_404(spyglass: Harness, api: Api) -> None:
    ids = await seed(spyglass, api)
    body = await api.ok(f"/api/public/observations/{ids['gen']}")
    assert contract.parse(contract.ObservationsView, body).id == ids["gen"]
    status, err = await api.get("/api/public/observations/nope")
    assert status == 404 and "Observation not found" in err["message"]


async def test_v2_via_sdk_default_and_groups(spyglass: Harness, api: Api) -> None:
    ids = await seed(spyglass, api)
    client = api.sdk()
    default = await client.observations.get_many(trace_id=ids["t1"])
    assert [o.id for o in default.data] == [ids["event"], ids["gen"], ids["root"]]
    root = default.data[2]
    # core + basic by default; trace attributes are denormalised onto each observation.
    assert root.is_root_observation is True and root.user_id == "alice" and root.session_id == "sess-a"
    assert root.input is None and root.usage_details is None
    full = await client.observations.get_many(
        trace_id=ids["t1"], type="GENERATION", fields="core,io,model,usage,prompt,metrics,trace_context,time"
    )
    (gen,) = full.data
    assert gen.input == '[{"role": "user", "content": "hi"}]' and gen.output == "hello"  # raw text in v2
    assert gen.model == "gpt-4o" and gen.model_parameters == {"temperature": 0.2, "response_format": {"type": "json"}}
    assert gen.usage_details == {"input": 100, "input_cached_tokens": 20, "output": 30, "total": 150}
    assert gen.total_cost == pytest.approx(0.003) and gen.prompt_version == 3
    assert gen.latency == pytest.approx(3.0) and gen.time_to_first_token == pytest.approx(0.5)
    assert gen.trace_name == "chat" and gen.tags == ["x"] and gen.release == "r9"
    assert gen.completion_start_time is not None and gen.level is None  # basic not requested
    assert full.meta.cursor is None


async def test_v2_filters_by_trace_attributes(spyglass: Harness, api: Api) -> None:
    ids = await seed(spyglass, api)
    client = api.sdk()
    by_user = await client.observations.get_many(user_id="bob")
    assert [o.id for o in by_user.data] == [ids["other"]]
    by_session = await client.observations.get_many(session_id="sess-a")
    assert {o.id for o in by_session.data} == {ids["root"], ids["gen"], ids["event"]}
    roots = await client.observations.get_many(is_root_observation=True)
    assert {o.id for o in roots.data} == {ids["root"], ids["other"]}
    no_parent = await api.ok("/api/public/v2/observations", {"parentObservationId": ""})
    assert {o["id"] for o in no_parent["data"]} == {ids["root"], ids["other"]}


async def test_v2_cursor_walks_every_row_once(spyglass: Harness, api: Api) -> None:
    pid = api.project_id
    tid = unique("t")
    # Equal start times force the (start, trace, id) tie-break to carry the pages.
    rows = [observation(pid, f"{tid}-o{i:02d}", tid, start=i // 3) for i in range(11)]
    await insert(spyglass.stores.ch, trace(pid, tid), *rows)
    client = api.sdk()
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = await client.observations.get_many(limit=4, cursor=cursor)
        seen.extend(o.id for o in page.data)
        pages += 1
        cursor = page.meta.cursor
        if cursor is None:
            break
    assert pages == 3
    expected = [r.id for r in sorted(rows, key=lambda r: (r.start_time, r.id), reverse=True)]
    assert seen == expected


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"parseIoAsJson": "true"}, "parseIoAsJson"),
        ({"limit": "1001"}, "limit"),
        ({"cursor": "not-a-cursor!"}, "cursor"),
        ({"cursor": base64.b64encode(b'{"x": 1}').decode()}, "cursor"),
        ({"filter": "{}"}, "filter"),
        ({"filter": '[{"type":"number","column":"latency","operator":">","value":"fast"}]'}, "filter"),
        ({"type": "BANANA"}, "type"),
        ({"level": "LOUD"}, "level"),
        ({"fromStartTime": "01/02/2026"}, "fromStartTime"),
        ({"isRootObservation": "maybe"}, "isRootObservation"),
    ],
)
async def test_v2_bad_parameters(api: Api, params: dict[str, str], name: str) -> None:
    status, body = await api.get("/api/public/v2/observations", params)
    assert status == 400, body
    assert f"'{name}'" in body["message"]


async def test_v2_bad_parameter_raises_in_sdk(api: Api) -> None:
    with pytest.raises(ApiError) as info:
        await api.sdk().observations.get_many(parse_io_as_json=True)
    assert info.value.status_code == 400


async def test_v2_unknown_field_group_is_a_400_naming_it(spyglass: Harness, api: Api) -> None:
    status, body = await api.get("/api/public/v2/observations", {"fields": "core,bogus"})
    assert status == 400 and "bogus" in body["message"]
