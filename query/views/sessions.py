"""/api/public/sessions: sessions derived from the traces' session ids."""

from __future__ import annotations

from aiohttp import web

from spyglass.collector.http import STORES, json_response, not_found
from spyglass.query.reads import sessions, traces
from spyglass.query.reads.params import Query
from spyglass.query.reads.scope import project_id
from spyglass.query.reads.values import iso


async def list_sessions(request: web.Request) -> web.Response:
    pid = await project_id(request)
    q = Query(request.query)
    page = q.page()
    rows, total = await sessions.page(
        request.app[STORES].ch,
        pid,
        page,
        start=q.datetime("fromTimestamp"),
        end=q.datetime("toTimestamp"),
        environments=q.strings("environment"),
    )
    return json_response({"data": [sessions.session(r, pid) for r in rows], "meta": page.meta(total)})


async def get_session(request: web.Request) -> web.Response:
    pid = await project_id(request)
    session_id = request.match_info["sessionId"]
    rows = await sessions.traces_of(request.app[STORES].ch, pid, session_id)
    if not rows:
        raise not_found(f"Session not found within authorized project: {session_id}")
    first = rows[0]
    return json_response(
        {
            "id": session_id,
            "createdAt": iso(first["ts_us"]),
            "projectId": pid,
            "environment": first["environment"],
            "traces": [traces.trace(r) for r in rows],
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/public/sessions", list_sessions)
    app.router.add_get("/api/public/sessions/{sessionId}", get_session)
