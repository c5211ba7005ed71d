"""Scores are checked against the score config they name when the request is accepted (a 400, or a
per-event 400 in the 207 of /ingestion); one that fails later in the worker is a dead letter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec
import pytest

from spyglass.collector.events import IngestionEvent
from spyglass.collector.http import INTAKE
from spyglass.collector.worker.merge import encode_events
from spyglass.store.postgres.dead_letters import DeadLetters
from tests.harness import Harness, ProjectKeys

_EVENTS = msgspec.json.Decoder(list[IngestionEvent])


async def _config(http: aiohttp.ClientSession, base: str, body: dict[str, Any]) -> str:
    async with http.post(f"{base}/score-configs", json=body) as r:
        assert r.status in (200, 201), await r.text()
        return str((await r.json())["id"])


async def _score_ids(spyglass: Harness, keys: ProjectKeys) -> set[str]:
    rows = await spyglass.stores.ch.rows(
        "SELECT id FROM scores FINAL WHERE project_id = {p:String}", {"p": keys.project_id}
    )
    return {r["id"] for r in rows}


@pytest.fixture
async def project(spyglass: Harness) -> ProjectKeys:
    return await spyglass.new_project()


async def test_scores_endpoint_answers_400_naming_the_rule(spyglass: Harness, project: ProjectKeys) -> None:
    base = f"{spyglass.url}/api/public"
    async with aiohttp.ClientSession(headers=project.headers) as http:
        numeric = await _config(http, base, {"name": "accuracy", "dataType": "NUMERIC", "minValue": 0, "maxValue": 10})
        verdict = await _config(
            http,
            base,
            {"name": "verdict", "dataType": "CATEGORICAL", "categories": [{"label": "good", "value": 1}]},
        )
        archived = await _config(http, base, {"name": "old", "dataType": "NUMERIC"})
        async with http.patch(f"{base}/score-configs/{archived}", json={"isArchived": True}) as r:
            assert r.status == 200, await r.text()
        cases = [
            ({"value": 11, "configId": numeric}, "value 11 is above the config maximum 10"),
            ({"value": -0.5, "configId": numeric}, "value -0.5 is below the config minimum 0"),
            ({"value": "meh", "configId": verdict}, "value 'meh' is not a category of config 'verdict'"),
            ({"value": 1, "configId": "no-such-config"}, "score config no-such-config does not exist"),
            ({"value": 1, "configId": archived}, f"score config {archived} is archived; restore it before using it"),
            (
                {"value": 1, "dataType": "BOOLEAN", "configId": numeric},
                "dataType BOOLEAN does not match config type NUMERIC",
            ),
        ]
        for i, (fields, message) in enumerate(cases):
            body = {"id": f"bad-{i}", "traceId": "t", "name": "x", **fields}
            async with http.post(f"{base}/scores", json=body) as r:
                assert r.status == 400, await r.text()
                assert await r.json() == {"message": message, "error": "InvalidRequestError"}
        # An array answers 207: the fitting score is accepted, the other named with its reason.
        batch = [
            {"id": "fits", "traceId": "t", "name": "x", "value": 3, "configId": numeric},
            {"id": "too-big", "traceId": "t", "name": "x", "value": 12, "configId": numeric},
        ]
        async with http.post(f"{base}/scores", json=batch) as r:
            assert r.status == 207, await r.text()
            assert await r.json() == {
                "accepted": 1,
                "rejected": 1,
                "errors": [{"id": "too-big", "message": "value 12 is above the config maximum 10"}],
            }
    await spyglass.wait_idle()
    assert await _score_ids(spyglass, project) == {"fits"}


async def test_ingestion_reports_the_misfit_per_event_and_keeps_its_siblings(
    spyglass: Harness, project: ProjectKeys
) -> None:
    base = f"{spyglass.url}/api/public"
    now = datetime.now(UTC).isoformat()
    async with aiohttp.ClientSession(headers=project.headers) as http:
        numeric = await _config(http, base, {"name": "accuracy", "dataType": "NUMERIC", "maxValue": 10})
        batch = [
            {"id": "e-trace", "type": "trace-create", "timestamp": now, "body": {"id": "tr-1", "name": "t"}},
            {
                "id": "e-bad",
                "type": "score-create",
                "timestamp": now,
                "body": {"id": "s-bad", "traceId": "tr-1", "name": "a", "value": 11, "configId": numeric},
            },
            {
                "id": "e-good",
                "type": "score-create",
                "timestamp": now,
                "body": {"id": "s-good", "traceId": "tr-1", "name": "a", "value": 9, "configId": numeric},
            },
        ]
        async with http.post(f"{base}/ingestion", json={"batch": batch}) as r:
            assert r.status == 207
            answer = await r.json()
    assert answer["successes"] == [{"id": "e-trace", "status": 201}, {"id": "e-good", "status": 201}]
    assert answer["errors"] == [
        {
            "id": "e-bad",
            "status": 400,
            "message": "value 11 is above the config maximum 10",
            "error": "Invalid request data",
        }
    ]
    await spyglass.wait_idle()
    assert await _score_ids(spyglass, project) == {"s-good"}
    traces = await spyglass.stores.ch.rows(
        "SELECT id FROM traces FINAL WHERE project_id = {p:String}", {"p": project.project_id}
    )
    assert [t["id"] for t in traces] == ["tr-1"]


async def test_a_score_its_config_refuses_in_the_worker_is_a_dead_letter(
    spyglass: Harness, project: ProjectKeys
) -> None:
    base = f"{spyglass.url}/api/public"
    async with aiohttp.ClientSession(headers=project.headers) as http:
        numeric = await _config(http, base, {"name": "accuracy", "dataType": "NUMERIC", "maxValue": 10})
        async with http.patch(f"{base}/score-configs/{numeric}", json={"isArchived": True}) as r:
            assert r.status == 200, await r.text()
    # Accepted while the config was live (the payload as the receiver persisted it), archived
    # before the worker got to it.
    now = datetime.now(UTC).isoformat()
    raw = [
        {
            "id": str(uuid.uuid4()),
            "type": "score-create",
            "timestamp": now,
            "body": {"id": "late", "traceId": "t", "name": "a", "value": 5, "configId": numeric},
        },
        {
            "id": str(uuid.uuid4()),
            "type": "score-create",
            "timestamp": now,
            "body": {"id": "plain", "traceId": "t", "name": "free", "value": 1},
        },
    ]
    rejected_before = spyglass.worker.processor.rejected_scores
    assert spyglass.app is not None
    ref = await spyglass.app[INTAKE].submit(
        project.project_id, "ingestion", "json", encode_events(_EVENTS.decode(msgspec.json.encode(raw)))
    )
    await spyglass.wait_idle()
    assert await _score_ids(spyglass, project) == {"plain"}
    letters = await DeadLetters(spyglass.stores.pg).list(project_id=project.project_id)
    assert [(d.blob_key, d.source, d.reason) for d in letters] == [
        (
            ref.key,
            "ingestion",
            f"score late left out (the payload's other rows are stored): score config {numeric} is archived; "
            "restore it before using it",
        )
    ]
    assert spyglass.worker.processor.rejected_scores == rejected_before + 1
