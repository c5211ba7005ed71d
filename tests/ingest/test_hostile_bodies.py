"""Hostile request bodies on every ingest and write endpoint: JSON nested past Python's recursion
limit, NUL characters bound for PostgreSQL, times outside the accepted range.

Each is a 4xx JSON answer naming the problem (a 207 whose event error names it, for the batch
ingestion API), never a 5xx; bodies that are hostile only inside their strings are accepted and
stay readable; afterwards the service still serves and earlier data is intact.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import aiohttp
import pytest

from spyglass.collector.json_depth import MAX_JSON_DEPTH
from spyglass.store.postgres.dead_letters import DeadLetters
from tests.harness import Harness, ProjectKeys

DEEP = 2000  # past the recursion limit msgspec shares with the stack (what used to be a 500)
NOW = "2026-01-01T00:00:00.000Z"
NOW_NS = 1_767_225_600_000_000_000


def deep(levels: int = DEEP) -> str:
    return "[" * levels + "]" * levels


def nested(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


class Case(NamedTuple):
    name: str
    method: str
    path: str
    body: bytes
    status: int  # 207: the batch is processed, its one event rejected with a 400 entry
    says: str  # what the message must name


def _otlp(span: str) -> bytes:
    return ('{"resourceSpans":[{"scopeSpans":[{"spans":[' + span + "]}]}]}").encode()


def _span(attributes: str = "[]", start: str = str(NOW_NS)) -> str:
    ids = f'"traceId":"{"ab" * 16}","spanId":"{"cd" * 8}"'
    return f'{{{ids},"name":"s","startTimeUnixNano":"{start}","endTimeUnixNano":"{start}","attributes":{attributes}}}'


def _batch(event_type: str, body: str, timestamp: str = NOW) -> bytes:
    event = f'{{"id":"hostile-event","type":"{event_type}","timestamp":"{timestamp}","body":{body}}}'
    return f'{{"batch":[{event}]}}'.encode()


def _deep_in(template: str) -> bytes:
    """The JSON template with `@` replaced by the 2000-level array."""
    return template.replace("@", deep()).encode()


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


TOO_DEEP = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
NUL = "NUL character"
RANGE = "must be between 2000-01-01T00:00:00Z and 2262-04-11T23:47:16Z"
D = deep()
NUL_TEXT = "a\u0000b"

CASES = [
    # JSON nested ~2000 levels: everywhere a body is decoded.
    Case("otlp-deep-body", "POST", "/v1/traces", f'{{"resourceSpans":{D}}}'.encode(), 400, TOO_DEEP),
    Case(
        "otlp-deep-attribute",
        "POST",
        "/api/public/otel/v1/traces",
        _otlp(_span(_deep_in('[{"key":"k","value":{"arrayValue":{"values":@}}}]').decode())),
        400,
        TOO_DEEP,
    ),
    Case("ingestion-deep-body", "POST", "/api/public/ingestion", D.encode(), 400, TOO_DEEP),
    Case(
        "ingestion-deep-input",
        "POST",
        "/api/public/ingestion",
        _batch("trace-create", _deep_in('{"id":"t","input":@}').decode()),
        400,
        TOO_DEEP,
    ),
    Case(
        "ingestion-deep-metadata",
        "POST",
        "/api/public/ingestion",
        _batch("span-create", _deep_in('{"id":"s","metadata":{"a":@}}').decode()),
        400,
        TOO_DEEP,
    ),
    Case("scores-deep-array", "POST", "/api/public/scores", D.encode(), 400, TOO_DEEP),
    Case(
        "scores-deep-metadata",
        "POST",
        "/api/public/scores",
        _deep_in('{"name":"q","value":1,"traceId":"t","metadata":@}'),
        400,
        TOO_DEEP,
    ),
    Case("legacy-trace-deep", "POST", "/api/public/traces", _deep_in('{"input":@}'), 400, TOO_DEEP),
    Case("legacy-span-deep", "POST", "/api/public/spans", _deep_in('{"traceId":"t","output":@}'), 400, TOO_DEEP),
    Case("legacy-generation-deep", "PATCH", "/api/public/generations", f'{{"x":{D}}}'.encode(), 400, TOO_DEEP),
    Case("legacy-event-deep", "POST", "/api/public/events", D.encode(), 400, TOO_DEEP),
    Case(
        "prompt-deep-config",
        "POST",
        "/api/public/v2/prompts",
        _deep_in('{"name":"p","type":"text","prompt":"x","config":@}'),
        400,
        TOO_DEEP,
    ),
    Case(
        "dataset-deep-metadata",
        "POST",
        "/api/public/v2/datasets",
        _deep_in('{"name":"d","metadata":@}'),
        400,
        TOO_DEEP,
    ),
    Case(
        "dataset-item-deep-input",
        "POST",
        "/api/public/dataset-items",
        _deep_in('{"datasetName":"d","input":@}'),
        400,
        TOO_DEEP,
    ),
    Case(
        "run-item-deep-metadata",
        "POST",
        "/api/public/dataset-run-items",
        _deep_in('{"runName":"r","datasetItemId":"i","traceId":"t","metadata":@}'),
        400,
        TOO_DEEP,
    ),
    Case(
        "model-deep-tokenizer-config",
        "POST",
        "/api/public/models",
        _deep_in('{"modelName":"m","matchPattern":"m","totalPrice":1,"tokenizerConfig":@}'),
        400,
        TOO_DEEP,
    ),
    Case("model-put-deep", "PUT", "/api/public/models/m1", f'{{"x":{D}}}'.encode(), 400, TOO_DEEP),
    Case("comment-deep", "POST", "/api/public/comments", f'{{"x":{D}}}'.encode(), 400, TOO_DEEP),
    Case("score-config-deep", "POST", "/api/public/score-configs", f'{{"x":{D}}}'.encode(), 400, TOO_DEEP),
    Case("score-config-patch-deep", "PATCH", "/api/public/score-configs/c1", f'{{"x":{D}}}'.encode(), 400, TOO_DEEP),
    Case("media-deep", "POST", "/api/public/media", f'{{"x":{D}}}'.encode(), 400, TOO_DEEP),
    Case("prompt-labels-deep", "PATCH", "/api/public/v2/prompts/p/versions/1", f'{{"x":{D}}}'.encode(), 400, TOO_DEEP),
    # NUL characters in what PostgreSQL stores or looks up: a 400 naming the field.
    Case("prompt-nul-name", "POST", "/api/public/v2/prompts", _json({"name": NUL_TEXT, "prompt": "x"}), 400, "'name'"),
    Case(
        "prompt-nul-text", "POST", "/api/public/v2/prompts", _json({"name": "p", "prompt": NUL_TEXT}), 400, "'prompt'"
    ),
    Case(
        "prompt-nul-config",
        "POST",
        "/api/public/v2/prompts",
        _json({"name": "p", "prompt": "x", "config": {"a": [1, NUL_TEXT]}}),
        400,
        "'config.a[1]'",
    ),
    Case(
        "prompt-nul-chat",
        "POST",
        "/api/public/v2/prompts",
        _json({"name": "p", "type": "chat", "prompt": [{"role": "user", "content": NUL_TEXT}]}),
        400,
        "'prompt[0].content'",
    ),
    Case("dataset-nul-name", "POST", "/api/public/v2/datasets", _json({"name": NUL_TEXT}), 400, "'name'"),
    Case(
        "dataset-nul-metadata-key",
        "POST",
        "/api/public/v2/datasets",
        _json({"name": "d", "metadata": {NUL_TEXT: 1}}),
        400,
        "'metadata.a\\u0000b'",
    ),
    Case(
        "dataset-item-nul-input",
        "POST",
        "/api/public/dataset-items",
        _json({"datasetName": "d", "input": {"q": NUL_TEXT}}),
        400,
        "'input.q'",
    ),
    Case(
        "run-item-nul-run-name",
        "POST",
        "/api/public/dataset-run-items",
        _json({"runName": NUL_TEXT, "datasetItemId": "i", "traceId": "t"}),
        400,
        "'runName'",
    ),
    Case(
        "model-nul-name",
        "POST",
        "/api/public/models",
        _json({"modelName": NUL_TEXT, "matchPattern": "m", "totalPrice": 1}),
        400,
        "'modelName'",
    ),
    Case(
        "comment-nul-content",
        "POST",
        "/api/public/comments",
        _json({"objectType": "TRACE", "objectId": "t", "content": NUL_TEXT}),
        400,
        "'content'",
    ),
    Case(
        "score-config-nul-name",
        "POST",
        "/api/public/score-configs",
        _json({"name": NUL_TEXT, "dataType": "NUMERIC"}),
        400,
        "'name'",
    ),
    Case(
        "media-nul-trace-id",
        "POST",
        "/api/public/media",
        _json(
            {
                "traceId": NUL_TEXT,
                "contentType": "image/png",
                "contentLength": 1,
                "sha256Hash": "A" * 43 + "=",
                "field": "input",
            }
        ),
        400,
        "'traceId'",
    ),
    Case(
        "ingestion-nul-run-item",
        "POST",
        "/api/public/ingestion",
        _batch("dataset-run-item-create", _json({"runName": NUL_TEXT, "datasetItemId": "i", "traceId": "t"}).decode()),
        207,
        "body.runName",
    ),
    Case(
        "ingestion-nul-prompt-name",
        "POST",
        "/api/public/ingestion",
        _batch("generation-create", _json({"id": "g", "promptName": NUL_TEXT, "promptVersion": 1}).decode()),
        207,
        "body.promptName",
    ),
    Case(
        "ingestion-nul-config-id",
        "POST",
        "/api/public/ingestion",
        _batch("score-create", _json({"name": "q", "value": 1, "traceId": "t", "configId": NUL_TEXT}).decode()),
        207,
        "body.configId",
    ),
    Case(
        "ingestion-nul-trace-id",
        "POST",
        "/api/public/ingestion",
        _batch("trace-create", _json({"id": NUL_TEXT}).decode()),
        207,
        "body.id",
    ),
    Case(
        "scores-nul-config-id",
        "POST",
        "/api/public/scores",
        _json({"name": "q", "value": 1, "configId": NUL_TEXT}),
        400,
        "configId",
    ),
    # Times outside the range OTLP accepts: the same 400 (or event error) on every path.
    Case(
        "ingestion-year-1",
        "POST",
        "/api/public/ingestion",
        _batch("trace-create", '{"id":"t"}', "0001-01-01T00:00:00Z"),
        207,
        "timestamp: " + RANGE,
    ),
    Case(
        "ingestion-year-1-offset",
        "POST",
        "/api/public/ingestion",
        _batch("trace-create", '{"id":"t"}', "0001-01-01T00:00:00+01:00"),
        207,
        RANGE,
    ),
    Case(
        "ingestion-year-9999-trace",
        "POST",
        "/api/public/ingestion",
        _batch("trace-create", '{"id":"t","timestamp":"9999-12-31T23:59:59.999999Z"}'),
        207,
        "body.timestamp: " + RANGE,
    ),
    Case(
        "ingestion-start-year-1",
        "POST",
        "/api/public/ingestion",
        _batch("span-create", '{"id":"s","startTime":"0001-01-01T00:00:00Z"}'),
        207,
        "body.startTime",
    ),
    Case(
        "ingestion-end-year-9999",
        "POST",
        "/api/public/ingestion",
        _batch("span-update", '{"id":"s","endTime":"9999-12-31T23:59:59Z"}'),
        207,
        "body.endTime",
    ),
    Case(
        "ingestion-completion-start-1999",
        "POST",
        "/api/public/ingestion",
        _batch("generation-create", '{"id":"g","completionStartTime":"1999-12-31T23:59:59Z"}'),
        207,
        "body.completionStartTime",
    ),
    Case(
        "ingestion-score-year-1",
        "POST",
        "/api/public/ingestion",
        _batch("score-create", '{"name":"q","value":1,"traceId":"t","timestamp":"0001-01-01T00:00:00Z"}'),
        207,
        "body.timestamp",
    ),
    Case(
        "ingestion-run-item-version",
        "POST",
        "/api/public/ingestion",
        _batch(
            "dataset-run-item-create", '{"runName":"r","datasetItemId":"i","traceId":"t","datasetVersion":"0001-01-01"}'
        ),
        207,
        "body.datasetVersion",
    ),
    Case(
        "scores-year-9999",
        "POST",
        "/api/public/scores",
        _json({"name": "q", "value": 1, "traceId": "t", "timestamp": "9999-12-31T23:59:59.999999Z"}),
        400,
        "timestamp: " + RANGE,
    ),
    Case(
        "legacy-trace-year-1",
        "POST",
        "/api/public/traces",
        _json({"timestamp": "0001-01-01T00:00:00Z"}),
        400,
        "timestamp",
    ),
    Case(
        "legacy-span-year-9999",
        "POST",
        "/api/public/spans",
        _json({"traceId": "t", "startTime": "9999-12-31T23:59:59Z"}),
        400,
        "startTime",
    ),
    Case("otlp-time-1ns", "POST", "/v1/traces", _otlp(_span(start="1")), 400, "timestamp out of range"),
    Case(
        "model-start-year-1",
        "POST",
        "/api/public/models",
        _json({"modelName": "m", "matchPattern": "m", "totalPrice": 1, "startDate": "0001-01-01T00:00:00Z"}),
        400,
        "startDate " + RANGE,
    ),
    Case(
        "run-item-created-year-1",
        "POST",
        "/api/public/dataset-run-items",
        _json({"runName": "r", "datasetItemId": "i", "traceId": "t", "createdAt": "0001-01-01T00:00:00Z"}),
        400,
        "'createdAt': " + RANGE,
    ),
    Case(
        "media-uploaded-year-9999",
        "PATCH",
        "/api/public/media/m1",
        _json({"uploadedAt": "9999-12-31T23:59:59Z", "uploadHttpStatus": 200}),
        400,
        "uploadedAt " + RANGE,
    ),
]

# Hostile only inside their strings (JSON text nested 2000 levels, NUL in OTel attributes the
# worker looks up in PostgreSQL): accepted, and the worker must store them without a dead letter.
DEEP_TEXT = deep()
DEEP_OBJECT_TEXT = '{"a":' * DEEP + "1" + "}" * DEEP
_HOSTILE_ATTRIBUTES = [
    {"key": "langfuse.observation.input", "value": {"stringValue": DEEP_TEXT}},
    {"key": "genkit:input", "value": {"stringValue": DEEP_TEXT}},
    {"key": "gen_ai.tool.definitions", "value": {"stringValue": DEEP_TEXT}},
    {"key": "langfuse.observation.metadata.k", "value": {"stringValue": DEEP_TEXT}},
    {"key": "langfuse.observation.prompt.name", "value": {"stringValue": NUL_TEXT}},
    {"key": "langfuse.observation.prompt.version", "value": {"intValue": "1"}},
    {"key": "langfuse.experiment.id", "value": {"stringValue": NUL_TEXT}},
    {"key": "langfuse.experiment.item.id", "value": {"stringValue": "item" + NUL_TEXT}},
    {"key": "langfuse.experiment.metadata", "value": {"stringValue": DEEP_TEXT}},
]
ACCEPTED_TRACE_OTLP = "ef" * 16
ACCEPTED_TRACE_INGESTION = "hostile-strings"


def _accepted_requests() -> list[tuple[str, bytes]]:
    span = {
        "traceId": ACCEPTED_TRACE_OTLP,
        "spanId": "12" * 8,
        "name": "deep-strings",
        "startTimeUnixNano": str(NOW_NS),
        "endTimeUnixNano": str(NOW_NS + 1000),
        "attributes": _HOSTILE_ATTRIBUTES,
    }
    trace = {"id": ACCEPTED_TRACE_INGESTION, "input": DEEP_TEXT, "metadata": {"k": DEEP_OBJECT_TEXT}}
    # An update merging an object into the stored deep text (the worker decodes stored metadata).
    update = {"id": ACCEPTED_TRACE_INGESTION, "metadata": {"k": {"a": 1}}}
    return [
        ("/v1/traces", json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()),
        ("/api/public/ingestion", _batch("trace-create", json.dumps(trace))),
        ("/api/public/ingestion", _batch("trace-create", json.dumps(update), "2026-01-01T00:00:01.000Z")),
    ]


class Tally:
    def __init__(self) -> None:
        self.requests = 0
        self.server_errors: list[str] = []
        self.endpoints: set[tuple[str, str]] = set()


@pytest.fixture(scope="module")
def tally() -> Tally:
    return Tally()


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="module")
async def victim(spyglass: Harness, http: aiohttp.ClientSession) -> ProjectKeys:
    """A project with one good trace ingested before any hostile request."""
    keys = await spyglass.new_project()
    good = _batch("trace-create", json.dumps({"id": "good-trace", "name": "before", "input": {"q": "hi"}}))
    async with http.post(spyglass.url + "/api/public/ingestion", data=good, headers=_headers(keys)) as resp:
        assert resp.status == 207, await resp.text()
    await spyglass.wait_idle()
    return keys


def _endpoint(method: str, path: str) -> tuple[str, str]:
    """The route a request hits (the placeholder ids of the table's paths as `{id}`)."""
    return method, re.sub(r"/(m1|c1|p/versions/1)$", "/{id}", path)


def _headers(keys: ProjectKeys) -> dict[str, str]:
    return {**keys.headers, "Content-Type": "application/json"}


async def _send(
    spyglass: Harness, http: aiohttp.ClientSession, keys: ProjectKeys, tally: Tally, method: str, path: str, body: bytes
) -> tuple[int, str, Any]:
    async with http.request(method, spyglass.url + path, data=body, headers=_headers(keys)) as resp:
        text = await resp.text()
        tally.requests += 1
        tally.endpoints.add(_endpoint(method, path))
        if resp.status >= 500:
            tally.server_errors.append(f"{method} {path}: {resp.status} {text[:200]}")
        return resp.status, resp.content_type, json.loads(text) if resp.content_type == "application/json" else text


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_hostile_body_is_a_4xx_naming_the_problem(
    spyglass: Harness, http: aiohttp.ClientSession, victim: ProjectKeys, tally: Tally, case: Case
) -> None:
    status, ctype, body = await _send(spyglass, http, victim, tally, case.method, case.path, case.body)
    assert ctype == "application/json", (status, body)
    assert status == case.status, (status, body)
    if status == 207:
        assert body["successes"] == [], body
        [error] = body["errors"]
        assert error["status"] == 400 and case.says in error["message"], error
    else:
        assert case.says in body["message"], body


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1])
async def test_the_depth_limit_is_exact(
    spyglass: Harness, http: aiohttp.ClientSession, victim: ProjectKeys, tally: Tally, levels: int
) -> None:
    # {batch: [{body: {input: X}}]} is 4 levels around X.
    body = _batch("trace-create", json.dumps({"id": f"depth-{levels}", "input": nested(levels - 4)}))
    status, _, answer = await _send(spyglass, http, victim, tally, "POST", "/api/public/ingestion", body)
    if levels <= MAX_JSON_DEPTH:
        assert status == 207 and answer["errors"] == [], answer
    else:
        assert status == 400 and TOO_DEEP in answer["message"], answer


async def test_strings_holding_hostile_json_are_stored_and_readable(
    spyglass: Harness, http: aiohttp.ClientSession, victim: ProjectKeys, tally: Tally
) -> None:
    for path, body in _accepted_requests():
        status, _, answer = await _send(spyglass, http, victim, tally, "POST", path, body)
        assert status in (200, 207), answer
        assert not answer.get("errors") and not answer.get("partialSuccess"), answer
    await spyglass.wait_idle()
    for trace_id in (ACCEPTED_TRACE_OTLP, ACCEPTED_TRACE_INGESTION):
        async with http.get(f"{spyglass.url}/api/public/traces/{trace_id}", headers=victim.headers) as resp:
            assert resp.status == 200, await resp.text()
            trace = await resp.json()
        # Too deep to decode: read back as the text it was sent as.
        assert trace["input"] == DEEP_TEXT
    assert trace["metadata"] == {"k": {"a": 1}}  # the update replaced the deep text
    async with http.get(f"{spyglass.url}/api/public/observations/{'12' * 8}", headers=victim.headers) as resp:
        assert resp.status == 200, await resp.text()
        observation = await resp.json()
    assert observation["input"] == DEEP_TEXT and observation["promptId"] is None


async def test_service_still_serves_and_nothing_was_lost(
    spyglass: Harness, http: aiohttp.ClientSession, victim: ProjectKeys, tally: Tally
) -> None:
    await spyglass.wait_idle()
    async with http.get(spyglass.url + "/api/public/traces", headers=victim.headers) as resp:
        assert resp.status == 200, await resp.text()
        listed = {t["id"]: t for t in (await resp.json())["data"]}
    assert listed["good-trace"]["input"] == {"q": "hi"} and listed["good-trace"]["name"] == "before"
    assert {t["timestamp"][:4] for t in listed.values()} == {"2026"}  # nothing out of range got in
    assert await DeadLetters(spyglass.stores.pg).list(project_id=victim.project_id) == []
    assert tally.server_errors == []
    print(f"\n{tally.requests} hostile requests across {len(tally.endpoints)} endpoints: 0 × 5xx")


def test_cases_cover_every_ingest_and_write_endpoint() -> None:
    covered = {_endpoint(c.method, c.path) for c in CASES}
    wanted = {
        ("POST", "/v1/traces"),
        ("POST", "/api/public/otel/v1/traces"),
        ("POST", "/api/public/ingestion"),
        ("POST", "/api/public/scores"),
        ("POST", "/api/public/traces"),
        ("POST", "/api/public/spans"),
        ("PATCH", "/api/public/generations"),
        ("POST", "/api/public/events"),
        ("POST", "/api/public/v2/prompts"),
        ("PATCH", "/api/public/v2/prompts/{id}"),
        ("POST", "/api/public/v2/datasets"),
        ("POST", "/api/public/dataset-items"),
        ("POST", "/api/public/dataset-run-items"),
        ("POST", "/api/public/models"),
        ("PUT", "/api/public/models/{id}"),
        ("POST", "/api/public/comments"),
        ("POST", "/api/public/score-configs"),
        ("PATCH", "/api/public/score-configs/{id}"),
        ("POST", "/api/public/media"),
        ("PATCH", "/api/public/media/{id}"),
    }
    assert wanted <= covered, wanted - covered
