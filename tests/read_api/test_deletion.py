"""DELETE /traces/{id} and DELETE /traces: hidden from every read at once, purged afterwards."""

from __future__ import annotations

from spyglass.query.reads.deletion import wait_for_purges
from tests.harness import Harness
from tests.read_api.conftest import Api
from tests.read_api.seed import insert, observation, score, trace, unique


async def seed_trace(spyglass: Harness, api: Api, session: str, at: float = 0.0) -> tuple[str, str, str]:
    pid = api.project_id
    tid, oid, sid = unique("t"), unique("o"), unique("s")
    await insert(
        spyglass.stores.ch,
        trace(pid, tid, at=at, session_id=session, user_id="u", input='"secret"'),
        observation(pid, oid, tid, start=at, end=at + 1, input='"secret"'),
        score(pid, sid, "q", at=at + 1, trace_id=tid, value=1.0),
    )
    return tid, oid, sid


async def visible(api: Api, tid: str, oid: str, sid: str, session: str) -> dict[str, bool]:
    """Where the trace, its observation and its score can still be seen."""
    traces = await api.ok("/api/public/traces")
    obs_v1 = await api.ok("/api/public/observations")
    obs_v2 = await api.ok("/api/public/v2/observations")
    scores_v2 = await api.ok("/api/public/v2/scores")
    scores_v3 = await api.ok("/api/public/v3/scores")
    sessions = await api.ok("/api/public/sessions")
    return {
        "trace list": tid in {t["id"] for t in traces["data"]},
        "trace get": (await api.get(f"/api/public/traces/{tid}"))[0] == 200,
        "observations v1": oid in {o["id"] for o in obs_v1["data"]},
        "observation get": (await api.get(f"/api/public/observations/{oid}"))[0] == 200,
        "observations v2": oid in {o["id"] for o in obs_v2["data"]},
        "scores v2": sid in {s["id"] for s in scores_v2["data"]},
        "score get": (await api.get(f"/api/public/v2/scores/{sid}"))[0] == 200,
        "scores v3": sid in {s["id"] for s in scores_v3["data"]},
        "session list": session in {s["id"] for s in sessions["data"]},
        "session get": (await api.get(f"/api/public/sessions/{session}"))[0] == 200,
    }


async def test_delete_hides_trace_observations_and_scores_at_once(spyglass: Harness, api: Api) -> None:
    session = unique("sess")
    tid, oid, sid = await seed_trace(spyglass, api, session)
    keep_session = unique("other")
    keep = await seed_trace(spyglass, api, keep_session, at=60)
    assert all((await visible(api, tid, oid, sid, session)).values())

    result = await api.sdk().trace.delete(tid)  # the SDK's own client parses our answer
    assert result.message == "Trace deleted successfully"

    # No waiting: the very next reads must not see any of it.
    assert not any((await visible(api, tid, oid, sid, session)).values()), await visible(api, tid, oid, sid, session)
    assert all((await visible(api, *keep, keep_session)).values())
    kept = await api.ok("/api/public/traces")
    assert [t["id"] for t in kept["data"]] == [keep[0]] and kept["meta"]["totalItems"] == 1
    assert len(kept["data"][0]["observations"]) == 1 and len(kept["data"][0]["scores"]) == 1


async def test_delete_many_and_purge_removes_payload(spyglass: Harness, api: Api) -> None:
    first = await seed_trace(spyglass, api, unique("a"))
    second = await seed_trace(spyglass, api, unique("b"), at=10)
    survivor = await seed_trace(spyglass, api, unique("c"), at=20)
    status, body = await api.call("DELETE", "/api/public/traces", json={"traceIds": [first[0], second[0]]})
    assert status == 200 and body == {"message": "Traces deleted successfully"}
    assert [t["id"] for t in (await api.ok("/api/public/traces"))["data"]] == [survivor[0]]

    await wait_for_purges()
    ch = spyglass.stores.ch
    params = {"p": api.project_id, "ids": [first[0], second[0]]}
    live_rows = await ch.rows(
        "SELECT 'traces' AS t, count() AS n FROM traces WHERE project_id = {p:String} AND id IN {ids:Array(String)} "
        "AND is_deleted = 0 UNION ALL "
        "SELECT 'observations', count() FROM observations WHERE project_id = {p:String} "
        "AND trace_id IN {ids:Array(String)} AND is_deleted = 0 UNION ALL "
        "SELECT 'scores', count() FROM scores WHERE project_id = {p:String} "
        "AND trace_id IN {ids:Array(String)} AND is_deleted = 0",
        params,
    )
    assert {r["t"]: r["n"] for r in live_rows} == {"traces": 0, "observations": 0, "scores": 0}
    # What stays behind are tombstones without the payload.
    leftovers = await ch.rows(
        "SELECT input FROM traces WHERE project_id = {p:String} AND id IN {ids:Array(String)}", params
    )
    assert leftovers and all(r["input"] is None for r in leftovers)
    # The survivor was not touched by the purge.
    assert (await api.get(f"/api/public/traces/{survivor[0]}"))[0] == 200


async def test_delete_covers_every_version_of_a_moved_trace(spyglass: Harness, api: Api) -> None:
    """A trace whose timestamp moved between versions (root span arrived later) stays hidden in
    time-bounded reads that only see the older version."""
    pid = api.project_id
    tid = unique("t")
    await insert(
        spyglass.stores.ch,
        trace(pid, tid, at=600, name="guess", event_ts=1000.0),
        trace(pid, tid, at=0, name="root", event_ts=2000.0),
    )
    window = {"fromTimestamp": "2026-01-01T00:05:00Z"}
    assert (await api.ok("/api/public/traces", window))["data"] == []
    await api.call("DELETE", f"/api/public/traces/{tid}")
    assert (await api.ok("/api/public/traces", window))["data"] == []
    assert (await api.ok("/api/public/traces"))["data"] == []


async def test_delete_validation(api: Api) -> None:
    for body in ({}, {"traceIds": []}, {"traceIds": "abc"}, {"traceIds": [1, 2]}):
        status, err = await api.call("DELETE", "/api/public/traces", json=body)
        assert status == 400 and "'traceIds'" in err["message"], body


async def test_deleting_what_is_not_there_says_so(spyglass: Harness, api: Api) -> None:
    tid, *_ = await seed_trace(spyglass, api, unique("once"))
    status, _ = await api.call("DELETE", f"/api/public/traces/{tid}")
    assert status == 200
    status, body = await api.call("DELETE", f"/api/public/traces/{tid}")
    assert status == 404 and tid in body["message"]
    other, *_ = await seed_trace(spyglass, api, unique("other"))
    status, body = await api.call("DELETE", "/api/public/traces", json={"traceIds": [other, unique("never")]})
    assert status == 200 and "1 of them were not found" in body["message"]
    assert (await api.get(f"/api/public/traces/{other}"))[0] == 404
