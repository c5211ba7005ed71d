"""Hostile query and path parameters on every read endpoint, and the error middleware's last resort.

NUL characters, times outside the accepted range and JSON parameters nested past Python's
recursion limit are each a 400 JSON answer naming the parameter, never a 5xx; rows stored before
times were range-checked still render; an unexpected exception is a logged JSON 500.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any, NamedTuple

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from spyglass.collector.http import create_app
from spyglass.collector.json_depth import MAX_JSON_DEPTH
from spyglass.query.reads.values import iso, iso_micro
from spyglass.store.postgres import faults
from tests.harness import Harness
from tests.read_api.conftest import Api
from tests.read_api.seed import insert, trace, unique

NUL_TEXT = "a\x00b"
RANGE = "must be between 2000-01-01T00:00:00Z and 2262-04-11T23:47:16Z"
NUL = "must not contain a NUL character"
TOO_DEEP = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
# 3000 levels as raw brackets: past the recursion limit, inside aiohttp's 8190-byte request line.
DEEP = "[" * 3000 + "]" * 3000
WINDOW = {"fromTimestamp": "2026-01-01T00:00:00Z", "toTimestamp": "2026-01-02T00:00:00Z"}


class Case(NamedTuple):
    name: str
    path: str
    params: dict[str, str]
    says: str | tuple[str, ...]  # what the message must name
    raw_query: str | None = None  # sent unencoded, as is


def _metrics(view: str = "observations", **fields: Any) -> str:
    query = {"view": view, "metrics": [{"measure": "count", "aggregation": "count"}], **WINDOW, **fields}
    return json.dumps(query)


def _cursor(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def _time_filter(column: str, value: str) -> str:
    return json.dumps([{"type": "datetime", "column": column, "operator": ">=", "value": value}])


_NUL_PARAMS = [
    ("/api/public/traces", "name"),
    ("/api/public/traces", "userId"),
    ("/api/public/observations", "name"),
    ("/api/public/v2/observations", "traceId"),
    ("/api/public/sessions", "environment"),
    ("/api/public/scores", "name"),
    ("/api/public/v2/scores", "userId"),
    ("/api/public/v3/scores", "name"),
    ("/api/public/v2/prompts", "name"),
    ("/api/public/v2/prompts", "tag"),
    ("/api/public/v2/datasets", "page"),
    ("/api/public/dataset-items", "datasetName"),
    ("/api/public/dataset-run-items", "runName"),
    ("/api/public/comments", "objectId"),
    ("/api/public/comments", "authorUserId"),
    ("/api/public/models", "page"),
    ("/api/public/experiments", "experimentName"),
    ("/api/public/experiment-items", "itemId"),
    ("/api/public/metrics", "query"),
    ("/api/public/metrics/daily", "traceName"),
]
_NUL_PATHS = [
    ("/api/public/traces/{}", "traceId"),
    ("/api/public/observations/{}", "observationId"),
    ("/api/public/sessions/{}", "sessionId"),
    ("/api/public/scores/{}", "scoreId"),
    ("/api/public/v2/scores/{}", "scoreId"),
    ("/api/public/v2/prompts/{}", "name"),
    ("/api/public/v2/prompts/{}/versions", "name"),
    ("/api/public/v2/datasets/{}", "name"),
    ("/api/public/datasets/{}/runs", "name"),
    ("/api/public/dataset-items/{}", "id"),
    ("/api/public/comments/{}", "commentId"),
    ("/api/public/score-configs/{}", "configId"),
    ("/api/public/models/{}", "model_id"),
    ("/api/public/media/{}", "media_id"),
    ("/api/blob/media/{}", "key"),
]
_TIME_PARAMS = [
    ("/api/public/traces", "fromTimestamp"),
    ("/api/public/traces", "toTimestamp"),
    ("/api/public/observations", "fromStartTime"),
    ("/api/public/observations", "toStartTime"),
    ("/api/public/v2/observations", "fromStartTime"),
    ("/api/public/sessions", "fromTimestamp"),
    ("/api/public/sessions", "toTimestamp"),
    ("/api/public/scores", "fromTimestamp"),
    ("/api/public/v2/scores", "toTimestamp"),
    ("/api/public/v3/scores", "fromTimestamp"),
    ("/api/public/v2/prompts", "fromUpdatedAt"),
    ("/api/public/v2/prompts", "toUpdatedAt"),
    ("/api/public/dataset-items", "version"),
    ("/api/public/experiments", "fromStartTime"),
    ("/api/public/experiment-items", "toStartTime"),
    ("/api/public/metrics/daily", "fromTimestamp"),
    ("/api/public/metrics/daily", "toTimestamp"),
]
_BAD_TIMES = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "1999-12-31T23:59:59Z",
    "0001-01-01T00:00:00+01:00",
]
_BOUNDED = {"/api/public/experiments": "fromStartTime", "/api/public/experiment-items": "fromStartTime"}


def _with_required(path: str, params: dict[str, str]) -> dict[str, str]:
    """Parameters an endpoint requires before it looks at the hostile one."""
    extra = {"datasetId": "d", "runName": "r"} if path.endswith("dataset-run-items") else {}
    required = _BOUNDED.get(path)
    if required is not None and required not in params:
        extra[required] = "2026-01-01T00:00:00Z"
    if path.endswith("/comments") and "objectId" in params:
        extra["objectType"] = "TRACE"
    return {**extra, **params}


CASES = (
    [Case(f"nul-{p}-{n}", p, _with_required(p, {n: NUL_TEXT}), f"'{n}': {NUL}") for p, n in _NUL_PARAMS]
    + [Case(f"nul-path-{p}", p.format("a%00b"), {}, f"'{n}': {NUL}") for p, n in _NUL_PATHS]
    + [Case("nul-param-name", "/api/public/traces", {NUL_TEXT: "x"}, f"'a\\u0000b': {NUL}")]
    + [
        Case(f"time-{p}-{n}-{t[:4]}{t[19:]}", p, _with_required(p, {n: t}), (n, RANGE))
        for p, n in _TIME_PARAMS
        for t in _BAD_TIMES
    ]
    + [
        Case(
            "time-traces-filter",
            "/api/public/traces",
            {"filter": _time_filter("timestamp", "0001-01-01T00:00:00Z")},
            RANGE,
        ),
        Case(
            "time-observations-filter",
            "/api/public/observations",
            {"filter": _time_filter("startTime", "9999-12-31T23:59:59.999999Z")},
            RANGE,
        ),
        Case(
            "time-v2-observations-filter",
            "/api/public/v2/observations",
            {"filter": _time_filter("startTime", "0001-01-01")},
            RANGE,
        ),
        Case(
            "time-scores-filter",
            "/api/public/scores",
            {"filter": _time_filter("timestamp", "1999-01-01T00:00:00Z")},
            RANGE,
        ),
        Case(
            "time-prompts-filter",
            "/api/public/v2/prompts",
            {
                "filter": json.dumps(
                    [{"type": "datetime", "column": "updatedAt", "operator": ">", "value": "0001-01-01T00:00:00Z"}]
                )
            },
            RANGE,
        ),
        Case(
            "time-metrics-from",
            "/api/public/metrics",
            {"query": _metrics("traces", fromTimestamp="0001-01-01T00:00:00Z")},
            RANGE,
        ),
        Case(
            "time-metrics-v2-to",
            "/api/public/v2/metrics",
            {"query": _metrics(toTimestamp="9999-12-31T23:59:59.999999Z")},
            RANGE,
        ),
        Case(
            "time-metrics-v2-filter",
            "/api/public/v2/metrics",
            {
                "query": _metrics(
                    filters=[
                        {"column": "startTime", "operator": ">=", "value": "0001-01-01T00:00:00Z", "type": "datetime"}
                    ]
                )
            },
            RANGE,
        ),
        Case(
            "time-v2-observations-cursor",
            "/api/public/v2/observations",
            {"cursor": _cursor({"lastStartTimeTo": "0001-01-01T00:00:00Z", "lastTraceId": "t", "lastId": "o"})},
            f"'cursor': {RANGE}",
        ),
        Case(
            "time-experiments-cursor",
            "/api/public/experiments",
            {
                "fromStartTime": "2026-01-01T00:00:00Z",
                "cursor": _cursor({"v": 1, "t": "0001-01-01T00:00:00Z", "id": "x"}),
            },
            "'cursor'",
        ),
    ]
    + [
        Case(f"deep-{p}-{n}", p, {}, f"'{n}'", raw_query=f"{n}={DEEP}")
        for p, n in [
            ("/api/public/traces", "filter"),
            ("/api/public/observations", "filter"),
            ("/api/public/v2/observations", "filter"),
            ("/api/public/scores", "filter"),
            ("/api/public/v2/prompts", "filter"),
        ]
    ]
    + [
        Case("deep-metrics-query", "/api/public/metrics", {}, TOO_DEEP, raw_query=f"query={DEEP}"),
        Case("deep-metrics-v2-query", "/api/public/v2/metrics", {}, TOO_DEEP, raw_query=f"query={DEEP}"),
        Case(
            "deep-v2-observations-cursor",
            "/api/public/v2/observations",
            {"cursor": base64.b64encode(b"[" * 2500 + b"]" * 2500).decode()},
            "'cursor'",
        ),
        Case(
            "deep-v3-scores-cursor",
            "/api/public/v3/scores",
            {"cursor": base64.b64encode(b'{"x":' + b"[" * 2500 + b"]" * 2500 + b"}").decode()},
            "'cursor'",
        ),
        Case(
            "deep-experiments-cursor",
            "/api/public/experiments",
            {
                "fromStartTime": "2026-01-01T00:00:00Z",
                "cursor": base64.urlsafe_b64encode(b'{"x":' + b"[" * 2500 + b"]" * 2500 + b"}").decode(),
            },
            "'cursor'",
        ),
    ]
)


class Tally:
    def __init__(self) -> None:
        self.requests = 0
        self.server_errors: list[str] = []
        self.endpoints: set[str] = set()


@pytest.fixture(scope="module")
def tally() -> Tally:
    return Tally()


@pytest.fixture(scope="module")
async def reader(spyglass: Harness, http: aiohttp.ClientSession) -> Api:
    """One project for the whole table, with a trace stored before any hostile request."""
    api = Api(http, spyglass.url, await spyglass.new_project())
    await insert(spyglass.stores.ch, trace(api.project_id, "kept", name="before"))
    return api


async def _get(api: Api, tally: Tally, case: Case) -> tuple[int, str, Any]:
    if case.raw_query is not None:
        url = URL(f"{api.base_url}{case.path}?{case.raw_query}", encoded=True)
    else:
        url = URL(api.base_url + case.path, encoded="%" in case.path).update_query(case.params)
    async with api.http.get(url, headers=api.keys.headers) as resp:
        text = await resp.text()
        tally.requests += 1
        tally.endpoints.add(case.path.replace("a%00b", "{id}"))
        if resp.status >= 500:
            tally.server_errors.append(f"{case.name}: {resp.status} {text[:200]}")
        return resp.status, resp.content_type, json.loads(text) if resp.content_type == "application/json" else text


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_hostile_parameter_is_a_400_naming_it(reader: Api, tally: Tally, case: Case) -> None:
    status, ctype, body = await _get(reader, tally, case)
    assert (status, ctype) == (400, "application/json"), (status, body)
    says = (case.says,) if isinstance(case.says, str) else case.says
    assert all(part in body["message"] for part in says), body


async def test_service_still_serves_afterwards(reader: Api, tally: Tally) -> None:
    body = await reader.ok("/api/public/traces")
    assert [(t["id"], t["name"]) for t in body["data"]] == [("kept", "before")]
    assert tally.server_errors == []
    print(f"\n{tally.requests} hostile requests across {len(tally.endpoints)} endpoints: 0 × 5xx")


async def test_the_range_edges_are_accepted(reader: Api) -> None:
    for moment in ("2000-01-01T00:00:00Z", "2262-04-11T23:47:16Z"):
        await reader.ok("/api/public/traces", {"fromTimestamp": moment})
        await reader.ok("/api/public/metrics/daily", {"toTimestamp": moment})


async def test_rows_stored_before_the_range_check_still_render(spyglass: Harness, api: Api) -> None:
    """What an older version let in (a trace at the last microsecond of 9999 rounds to year
    10000; one in year 1) must not fail every read of the project: rendered at the nearest
    representable time, always with a four-digit year."""
    late, early = unique("late"), unique("early")
    await insert(
        spyglass.stores.ch,
        trace(api.project_id, late, at=253_402_300_799.999999 - 1_767_225_600.0),
        trace(api.project_id, early, at=-62_135_596_800.0 - 1_767_225_600.0),
    )
    listed = {t["id"]: t["timestamp"] for t in (await api.ok("/api/public/traces"))["data"]}
    assert set(listed) == {late, early}
    for stamp in listed.values():
        assert len(stamp) == 24 and stamp[4] == "-" and stamp.endswith("Z"), listed
    assert (await api.ok(f"/api/public/traces/{late}"))["id"] == late


def test_iso_always_has_four_digit_years() -> None:
    assert iso(-62_135_596_800_000_000) == "0001-01-01T00:00:00.000Z"
    assert iso(-62_135_596_800_000_001) == "0001-01-01T00:00:00.000Z"  # before year 1: the first moment
    assert iso(253_402_300_800_000_000) == "9999-12-31T23:59:59.999Z"  # year 10000: the last one
    assert iso_micro(-61_000_000_000_000_000) == "0036-12-26T11:33:20.000000Z"


# ---- the error middleware's last resort ---------------------------------------------------------

SECRET = "postgresql://spyglass:hunter2@db/spyglass"


def _route_that_breaks(app: web.Application) -> None:
    async def boom(_request: web.Request) -> web.Response:
        raise RuntimeError(f"could not reach {SECRET}")

    async def recurse(_request: web.Request) -> web.Response:
        def down(n: int) -> int:
            return down(n + 1) + 1

        return web.json_response(down(0))

    app.router.add_get("/test-only/boom", boom)
    app.router.add_get("/test-only/recurse", recurse)


@pytest.mark.parametrize(
    ("path", "kind"), [("/test-only/boom", "RuntimeError"), ("/test-only/recurse", "RecursionError")]
)
async def test_an_unexpected_exception_is_a_logged_json_500(
    caplog: pytest.LogCaptureFixture, path: str, kind: str
) -> None:
    app = create_app(contexts=[], route_groups=[_route_that_breaks], client_max_size=1024)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        with caplog.at_level(logging.ERROR, logger="spyglass.http"):
            resp = await client.get(path)
            body = await resp.json()
        assert (resp.status, resp.content_type) == (500, "application/json")
        assert body["error"] == "InternalServerError"
        assert body["message"].startswith(f"Internal Server Error: {kind} (ref ")
        assert "hunter2" not in json.dumps(body) and "Traceback" not in json.dumps(body)
        ref = body["message"].removesuffix(")").rsplit(" ", 1)[1]
        [record] = [r for r in caplog.records if ref in r.getMessage()]
        assert f"GET {path}" in record.getMessage() and record.exc_info is not None
        # ... and the app keeps serving.
        assert (await client.get("/test-only/missing")).status == 404


async def test_postgresql_refusing_a_nul_is_a_400_not_a_500(spyglass: Harness) -> None:
    """The backstop behind every check: PostgreSQL's own refusal (text and jsonb) is recognised
    and answered as the client's error."""
    pool = spyglass.stores.pg
    refusals = []
    for sql, value in (("SELECT $1::text", NUL_TEXT), ("SELECT $1::jsonb", {"a": NUL_TEXT})):
        with pytest.raises(Exception) as raised:
            await pool.fetchval(sql, value)
        assert isinstance(faults.translate(raised.value), faults.UnstorableText)
        refusals.append(raised.value)

    def routes(app: web.Application) -> None:
        async def raw(_request: web.Request) -> web.Response:
            raise refusals[0]

        async def translated(_request: web.Request) -> web.Response:
            with faults.db_errors():
                raise refusals[1]
            raise AssertionError("unreachable")

        app.router.add_get("/test-only/raw", raw)
        app.router.add_get("/test-only/translated", translated)

    app = create_app(contexts=[], route_groups=[routes], client_max_size=1024)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        for path in ("/test-only/raw", "/test-only/translated"):
            resp = await client.get(path)
            body = await resp.json()
            assert resp.status == 400 and NUL in body["message"], body
