"""A realistic agent trace, sent through POST /api/public/ingestion like an SDK would."""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from tests.harness import Harness, ProjectKeys

# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def media_ref(media_id: str) -> str:
    return f"@@@langfuseMedia:type=image/png|id={media_id}|source=base64_data_uri@@@"


def _iso(base: datetime, ms: float) -> str:
    return (base + timedelta(milliseconds=ms)).isoformat().replace("+00:00", "Z")


def agent_trace(
    trace_id: str, session_id: str, base: datetime | None = None, media_id: str = "sampleMediaId0000000000"
) -> list[dict[str, Any]]:
    """Events for one trace: an agent with a retriever, two generations, tools and a failing call."""
    t0 = base or datetime.now(UTC) - timedelta(minutes=5)
    now = _iso(t0, 0)
    ids = {k: f"{trace_id}-{k}" for k in ("agent", "retr", "gen1", "tool1", "tool2", "gen2", "evt", "guard")}

    def ev(kind: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "type": kind, "timestamp": now, "body": body}

    def obs(key: str, name: str, start: float, end: float | None, parent: str | None, **extra: Any) -> dict[str, Any]:
        body = {"id": ids[key], "traceId": trace_id, "name": name, "startTime": _iso(t0, start), **extra}
        if end is not None:
            body["endTime"] = _iso(t0, end)
        if parent:
            body["parentObservationId"] = ids[parent]
        return body

    messages = [
        {"role": "system", "content": "You are a travel assistant. Answer briefly."},
        {"role": "user", "content": f"Plan a weekend in Lisbon. Here is my photo: {media_ref(media_id)}"},
    ]
    return [
        ev(
            "trace-create",
            {
                "id": trace_id,
                "name": "plan-trip",
                "timestamp": now,
                "userId": "user-ana",
                "sessionId": session_id,
                "tags": ["travel", "beta"],
                "release": "2026.05.1",
                "input": {"question": "Plan a weekend in Lisbon", "note": XSS},
                "output": "Day 1: Alfama and the castle.\nDay 2: Belém and pastéis.",
                "metadata": {"tenant": "acme", "nested": {"depth": 2, "flags": [True, False, None]}},
            },
        ),
        ev("agent-create", obs("agent", "travel-agent", 0, 4200, None)),
        ev(
            "retriever-create",
            obs("retr", "search-guides", 40, 420, "agent", input={"query": "Lisbon weekend"}, output=["a", "b"]),
        ),
        ev(
            "generation-create",
            obs(
                "gen1",
                "draft-plan",
                450,
                2100,
                "agent",
                model="gpt-4o-mini",
                modelParameters={"temperature": 0.2, "max_tokens": 512},
                input=messages,
                output={"role": "assistant", "content": "Draft: Alfama, Belém, Sintra."},
                usageDetails={"input": 812, "output": 164, "total": 976},
                costDetails={"input": 0.0001218, "output": 0.0000984, "total": 0.0002202},
                completionStartTime=_iso(t0, 700),
                promptName="trip-planner",
                promptVersion=3,
            ),
        ),
        ev("tool-create", obs("tool1", "weather-api", 2150, 2600, "agent", input={"city": "Lisbon"}, output={"c": 22})),
        ev(
            "tool-create",
            obs(
                "tool2",
                "booking-api",
                2620,
                3100,
                "agent",
                level="ERROR",
                statusMessage="HTTP 503 from booking provider",
                input={"hotel": "Alfama Inn"},
            ),
        ),
        ev(
            "generation-create",
            obs(
                "gen2",
                "final-answer",
                3120,
                4150,
                "agent",
                model="gpt-4o-mini",
                input=[*messages, {"role": "assistant", "content": "Draft: Alfama, Belém, Sintra."}],
                output="Day 1: Alfama and the castle.\nDay 2: Belém and pastéis.",
                usageDetails={"input": 1020, "output": 88},
            ),
        ),
        ev("event-create", obs("evt", "cache-miss", 3000, None, "tool2", level="WARNING")),
        ev("guardrail-create", obs("guard", "pii-check", 4160, 4190, None, output={"passed": True})),
        ev("score-create", {"id": f"{trace_id}-s1", "traceId": trace_id, "name": "helpfulness", "value": 0.86}),
        ev(
            "score-create",
            {
                "id": f"{trace_id}-s2",
                "traceId": trace_id,
                "name": "tone",
                "value": "friendly",
                "dataType": "CATEGORICAL",
            },
        ),
        ev(
            "score-create",
            {"id": f"{trace_id}-s3", "traceId": trace_id, "observationId": ids["gen2"], "name": "grounded", "value": 1},
        ),
    ]


async def ingest(spyglass: Harness, keys: ProjectKeys, events: list[dict[str, Any]]) -> None:
    async with aiohttp.ClientSession() as http:
        for i in range(0, len(events), 500):
            batch = {"batch": events[i : i + 500]}
            async with http.post(f"{spyglass.url}/api/public/ingestion", json=batch, headers=keys.headers) as r:
                body = await r.json()
                assert r.status == 207, body
                assert not body["errors"], body["errors"][:3]
    await spyglass.wait_idle()


async def upload_png(spyglass: Harness, keys: ProjectKeys, trace_id: str) -> str:
    """Uploads PNG as the SDK's media manager does (POST, PUT to the presigned URL, PATCH)."""
    digest = base64.b64encode(hashlib.sha256(PNG).digest()).decode()
    body = {"traceId": trace_id, "contentType": "image/png", "contentLength": len(PNG), "sha256Hash": digest}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{spyglass.url}/api/public/media", json={**body, "field": "input"}, headers=keys.headers
        ) as r:
            assert r.status == 200, await r.text()
            answer = await r.json()
        if answer.get("uploadUrl"):
            put_headers = {"Content-Type": "image/png", "x-amz-checksum-sha256": digest}
            async with http.put(answer["uploadUrl"], data=PNG, headers=put_headers) as r:
                assert r.status == 200, await r.text()
            patch = {"uploadedAt": datetime.now(UTC).isoformat(), "uploadHttpStatus": 200, "uploadTimeMs": 3}
            async with http.patch(
                f"{spyglass.url}/api/public/media/{answer['mediaId']}", json=patch, headers=keys.headers
            ) as r:
                assert r.status in (200, 204), await r.text()
    return answer["mediaId"]


def wide_trace(trace_id: str, n: int, base: datetime | None = None) -> list[dict[str, Any]]:
    """A trace with `n` spans: 10 roots, each child of the one `n/100` before, with sparse errors."""
    t0 = base or datetime.now(UTC) - timedelta(minutes=10)
    now = _iso(t0, 0)
    events = [
        {"id": str(uuid.uuid4()), "type": "trace-create", "timestamp": now, "body": {"id": trace_id, "name": "big"}}
    ]
    for i in range(n):
        body: dict[str, Any] = {
            "id": f"{trace_id}-{i}",
            "traceId": trace_id,
            "name": f"step-{i}",
            "startTime": _iso(t0, i * 3),
            "endTime": _iso(t0, i * 3 + 40),
        }
        if i >= 10:
            body["parentObservationId"] = f"{trace_id}-{i // 10}"
        if i % 997 == 5:
            body["level"] = "ERROR"
            body["statusMessage"] = f"failure {i}"
        events.append({"id": str(uuid.uuid4()), "type": "span-create", "timestamp": now, "body": body})
    return events
