"""GET /api/public/sessions and /sessions/{id}: sessions derived from traces."""

from __future__ import annotations

from tests.harness import Harness
from tests.read_api import contract
from tests.read_api.conftest import Api
from tests.read_api.seed import insert, iso, trace, unique


async def seed(spyglass: Harness, api: Api) -> dict[str, str]:
    pid = api.project_id
    s = {k: unique(k) for k in ("early", "late", "prod")}
    await insert(
        spyglass.stores.ch,
        trace(pid, unique("t"), at=0, session_id=s["early"]),
        trace(pid, unique("t"), at=7200, session_id=s["early"], input='"second"'),
        trace(pid, unique("t"), at=3600, session_id=s["late"]),
        trace(pid, unique("t"), at=5400, session_id=s["prod"], environment="prod"),
        trace(pid, unique("t"), at=9000),  # no session
    )
    return s


async def test_list_sessions(spyglass: Harness, api: Api) -> None:
    s = await seed(spyglass, api)
    body = await api.ok("/api/public/sessions")
    parsed = contract.parse(contract.PaginatedSessions, body)
    assert [x.id for x in parsed.data] == [s["prod"], s["late"], s["early"]]
    assert body["meta"] == {"page": 1, "limit": 50, "totalItems": 3, "totalPages": 1}
    early = next(x for x in body["data"] if x["id"] == s["early"])
    # A session is created with its first trace, whatever came later.
    assert early == {"id": s["early"], "createdAt": iso(0), "projectId": api.project_id, "environment": "default"}


async def test_list_sessions_filters_and_paging(spyglass: Harness, api: Api) -> None:
    s = await seed(spyglass, api)
    # `early` has a trace after the bound but was created before it: not a new session.
    after = await api.ok("/api/public/sessions", {"fromTimestamp": "2026-01-01T00:30:00Z"})
    assert [x["id"] for x in after["data"]] == [s["prod"], s["late"]]
    before = await api.ok("/api/public/sessions", {"toTimestamp": "2026-01-01T01:00:00Z"})
    assert [x["id"] for x in before["data"]] == [s["early"]]
    prod = await api.ok("/api/public/sessions", {"environment": "prod"})
    assert [x["id"] for x in prod["data"]] == [s["prod"]]
    second = await api.ok("/api/public/sessions", {"limit": 2, "page": 2})
    assert [x["id"] for x in second["data"]] == [s["early"]] and second["meta"]["totalPages"] == 2


async def test_get_session_with_traces(spyglass: Harness, api: Api) -> None:
    s = await seed(spyglass, api)
    body = await api.ok(f"/api/public/sessions/{s['early']}")
    parsed = contract.parse(contract.SessionWithTraces, body)
    assert parsed.id == s["early"] and parsed.project_id == api.project_id
    assert [t.timestamp.isoformat() for t in parsed.traces] == [
        "2026-01-01T00:00:00+00:00",
        "2026-01-01T02:00:00+00:00",
    ]
    assert body["traces"][1]["input"] == "second"


async def test_session_ids_with_slashes_and_404(spyglass: Harness, api: Api) -> None:
    sid = f"user/{unique('chat')}"
    await insert(spyglass.stores.ch, trace(api.project_id, unique("t"), session_id=sid))
    body = await api.ok(f"/api/public/sessions/{sid.replace('/', '%2F')}")
    assert body["id"] == sid and len(body["traces"]) == 1
    status, err = await api.get("/api/public/sessions/nope")
    assert status == 404 and "Session not found" in err["message"]
