"""/api/public/scores, /v2/scores (page-based) and /v3/scores (cursor); get and delete by id."""

from __future__ import annotations

import math

from aiohttp import web

from spyglass.collector.http import STORES, json_response, not_found
from spyglass.query.reads import cursor as cursors
from spyglass.query.reads import deletion, scores, traces
from spyglass.query.reads.params import Query, field_groups, invalid
from spyglass.query.reads.scope import project_id
from spyglass.query.reads.sql import FLOAT, STRING, STRINGS
from spyglass.query.views.metrics import rows_deleted

V2_GROUPS = ("score", "trace")
V3_MAX_LIMIT = 100


async def list_v2(request: web.Request) -> web.Response:
    pid = await project_id(request)
    q = Query(request.query)
    page = q.page()
    groups = field_groups(q, V2_GROUPS, V2_GROUPS)
    user_id = q.string("userId")
    trace_tags = q.strings("traceTags")
    if (user_id is not None or trace_tags) and "trace" not in groups:
        raise invalid("fields", "must include the 'trace' group when filtering by userId or traceTags")
    sel = scores.selection(pid)
    p = sel.params
    sel.equals("name", q.string("name"))
    sel.equals("source", q.enum("source", scores.SOURCES))
    sel.equals("data_type", q.enum("dataType", scores.DATA_TYPES))
    sel.equals("config_id", q.string("configId"))
    sel.equals("session_id", q.string("sessionId"))
    sel.equals("dataset_run_id", q.string("datasetRunId"))
    sel.equals("trace_id", q.string("traceId"))
    sel.equals("queue_id", q.string("queueId"))
    sel.any_of("id", q.csv("scoreIds"))
    sel.any_of("observation_id", q.csv("observationId"))
    sel.any_of("environment", q.strings("environment"))
    operator, value = q.string("operator"), q.number("value")
    if (operator is None) != (value is None):
        raise invalid("operator" if operator is None else "value", "operator and value must be given together")
    if operator is not None and value is not None:
        if operator not in scores.OPERATORS:
            raise invalid("operator", f"expected one of {', '.join(scores.OPERATORS)}, got {operator!r}")
        sel.compare_value(operator, value)
    sel.window(q.datetime("fromTimestamp"), q.datetime("toTimestamp"))
    if user_id is not None:
        sel.trace_conditions.append(f"user_id = {p.bind(user_id, STRING)}")
    if trace_tags:
        sel.trace_conditions.append(f"hasAll(tags, {p.bind(trace_tags, STRINGS)})")
    sel.add_filter(q.string("filter"))
    ch = request.app[STORES].ch
    rows, total = await scores.page(ch, sel, page)
    context = {}
    if "trace" in groups:
        context = await traces.context_for(ch, pid, (r["trace_id"] for r in rows if r.get("trace_id")))
    data = []
    for r in rows:
        item = scores.score(r)
        if "trace" in groups:
            item["trace"] = scores.trace_data(context.get(r.get("trace_id") or ""))
        data.append(item)
    return json_response({"data": data, "meta": page.meta(total)})


async def get_score(request: web.Request) -> web.Response:
    pid = await project_id(request)
    score_id = request.match_info["scoreId"]
    row = await scores.get_one(request.app[STORES].ch, pid, score_id)
    if row is None:
        raise not_found(f"Score not found within authorized project: {score_id}")
    return json_response(scores.score(row))


async def delete_score(request: web.Request) -> web.Response:
    pid = await project_id(request)
    score_id = request.match_info["scoreId"]
    if not await deletion.delete_score(request.app[STORES].ch, request.app[STORES].pg, pid, score_id):
        raise not_found(f"Score not found within authorized project: {score_id}")
    rows_deleted(request.app, pid)
    return json_response({"message": "Score deleted successfully"})


def _upper_csv(q: Query, name: str, allowed: tuple[str, ...]) -> list[str]:
    values = [v.upper() for v in q.csv(name)]
    bad = [v for v in values if v not in allowed]
    if bad:
        raise invalid(name, f"expected values from {', '.join(allowed)}, got {', '.join(bad)}")
    return values


async def list_v3(request: web.Request) -> web.Response:
    pid = await project_id(request)
    q = Query(request.query)
    limit = q.integer("limit", default=50, lo=1, hi=V3_MAX_LIMIT)
    groups = field_groups(q, scores.V3_GROUPS, (), strict=True)
    data_types = _upper_csv(q, "dataType", scores.DATA_TYPES)
    trace_ids, session_ids = q.csv("traceId"), q.csv("sessionId")
    observation_ids, experiment_ids = q.csv("observationId"), q.csv("experimentId")
    if sum(bool(x) for x in (trace_ids, session_ids, experiment_ids)) > 1:
        raise invalid("traceId", "traceId, sessionId and experimentId are mutually exclusive")
    if observation_ids and not trace_ids:
        raise invalid("observationId", "requires traceId (observation ids are scoped to a trace)")
    sel = scores.selection(pid)
    sel.any_of("id", q.csv("id"))
    sel.any_of("name", q.csv("name"))
    sel.any_of("source", _upper_csv(q, "source", scores.SOURCES))
    sel.any_of("data_type", data_types)
    sel.any_of("environment", q.csv("environment"))
    sel.any_of("config_id", q.csv("configId"))
    sel.any_of("queue_id", q.csv("queueId"))
    sel.any_of("author_user_id", q.csv("authorUserId"))
    sel.any_of("trace_id", trace_ids)
    sel.any_of("session_id", session_ids)
    sel.any_of("observation_id", observation_ids)
    sel.any_of("dataset_run_id", experiment_ids)
    _value_filters(q, sel, data_types)
    sel.window(q.datetime("fromTimestamp"), q.datetime("toTimestamp"))
    position = None
    raw_cursor = q.string("cursor")
    if raw_cursor is not None:
        c = cursors.decode(raw_cursor, ("t", "id"))
        if not isinstance(c["t"], int) or not isinstance(c["id"], str):
            raise invalid("cursor", "invalid cursor format")
        position = (c["t"], c["id"])
    rows = await scores.page_after(request.app[STORES].ch, sel, limit, position)
    meta: dict[str, object] = {"limit": limit}
    if len(rows) > limit:
        rows = rows[:limit]
        meta["cursor"] = cursors.encode({"t": int(rows[-1]["ts_us"]), "id": rows[-1]["id"]}, urlsafe=True)
    return json_response({"data": [scores.score_v3(r, groups) for r in rows], "meta": meta})


def _value_filters(q: Query, sel: scores.ScoreSelection, data_types: list[str]) -> None:
    values = q.csv("value")
    low, high = q.number("valueMin"), q.number("valueMax")
    p = sel.params
    if values:
        if len(data_types) != 1 or data_types[0] not in ("NUMERIC", "BOOLEAN", "CATEGORICAL"):
            raise invalid("value", "requires exactly one dataType of NUMERIC, BOOLEAN or CATEGORICAL")
        kind = data_types[0]
        if kind == "CATEGORICAL":
            sel.conditions.append(f"string_value IN {p.bind(values, STRINGS)}")
        else:
            numbers = [_value_number(v, kind) for v in values]
            sel.conditions.append(f"value IN {p.bind(numbers, f'Array({FLOAT})')}")
    if low is not None or high is not None:
        if data_types != ["NUMERIC"]:
            name = "valueMin" if low is not None else "valueMax"
            raise invalid(name, "requires dataType=NUMERIC")
        if low is not None:
            sel.conditions.append(f"value >= {p.bind(low, FLOAT)}")
        if high is not None:
            sel.conditions.append(f"value <= {p.bind(high, FLOAT)}")


def _value_number(raw: str, kind: str) -> float:
    if kind == "BOOLEAN":
        lowered = raw.lower()
        if lowered not in ("true", "false"):
            raise invalid("value", f"BOOLEAN values must be true or false, got {raw!r}")
        return 1.0 if lowered == "true" else 0.0
    try:
        number = float(raw)
    except ValueError:
        raise invalid("value", f"NUMERIC values must be numbers, got {raw!r}") from None
    if not math.isfinite(number):
        raise invalid("value", f"NUMERIC values must be finite, got {raw!r}")
    return number


def add_routes(app: web.Application) -> None:
    for prefix in ("/api/public", "/api/public/v2"):
        app.router.add_get(f"{prefix}/scores", list_v2)
        app.router.add_get(f"{prefix}/scores/{{scoreId}}", get_score)
    app.router.add_delete("/api/public/scores/{scoreId}", delete_score)
    app.router.add_get("/api/public/v3/scores", list_v3)
