"""Request bodies shaped like the SDK captures in sdk-wire.md (py v2 batch, JS scores, py v5 scores)."""

from __future__ import annotations

import json
from typing import Any

PY_V2_BATCH_METADATA = {
    "batch_size": 0,
    "sdk_integration": "default",
    "sdk_name": "python",
    "sdk_version": "2.60.10",
    "public_key": "pk-lf-1234",
}

TRACE_ID = "custom-trace-7f3a"  # py v2 ids are uuids or any user string
SPAN_ID = "0b8c5a52-4c4f-4d0a-9d4e-8f0f7f7a1c01"
GEN_ID = "gen-7d1e"
EVENT_ID = "3f9d0c1e-5b8a-4d3e-b1f0-2a6c9e8d7f10"
SCORE_ID = "score-1"


def envelope(event_id: str, event_type: str, timestamp: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": event_id, "type": event_type, "timestamp": timestamp, "body": body}


def py_v2_tracing_batch() -> list[dict[str, Any]]:
    """One decorated py v2 run: the trace is re-sent with partial bodies as it gets updated."""
    return [
        envelope(
            "ev-01",
            "trace-create",
            "2026-11-22T09:50:26.100000Z",
            {
                "id": TRACE_ID,
                "timestamp": "2026-11-22T09:50:26.100000Z",
                "name": "qa-pipeline",
                "userId": "user-1",
                "metadata": {"team": "search", "limits": {"max": 3}},
                "tags": ["prod", "beta"],
                "release": "1.2.3",
                "input": {"question": "What is Spyglass?"},
                "start_time": "2026-11-22T09:50:26.100000Z",  # stray snake_case from the decorator
            },
        ),
        envelope(
            "ev-02",
            "span-create",
            "2026-11-22T09:50:26.110000Z",
            {
                "id": SPAN_ID,
                "traceId": TRACE_ID,
                "name": "retrieve",
                "startTime": "2026-11-22T09:50:26.110000Z",
                "input": "plain text query",
                "metadata": {"k": 1},
            },
        ),
        envelope(
            "ev-03",
            "generation-create",
            "2026-11-22T09:50:26.120000Z",
            {
                "id": GEN_ID,
                "traceId": TRACE_ID,
                "parentObservationId": SPAN_ID,
                "name": "llm",
                "startTime": "2026-11-22T09:50:26.120000Z",
                "model": "gpt-4o-mini",
                "modelParameters": {"temperature": "0.2", "max_tokens": 256, "stop": ["\n"]},
                "input": [{"role": "user", "content": "What is Spyglass?"}],
                "promptName": "qa",
                "promptVersion": 3,
                "metadata": "legacy string metadata",
            },
        ),
        envelope(
            "ev-04",
            "trace-create",
            "2026-11-22T09:50:26.130000Z",
            {"id": TRACE_ID, "sessionId": "session-9", "tags": ["alpha"], "metadata": {"limits": {"min": 1}}},
        ),
        envelope(
            "ev-05",
            "generation-update",
            "2026-11-22T09:50:27.500000Z",
            {
                "id": GEN_ID,
                "traceId": TRACE_ID,
                "endTime": "2026-11-22T09:50:27.500000Z",
                "completionStartTime": "2026-11-22T09:50:26.900000Z",
                "output": {"role": "assistant", "content": "An observability backend."},
                "usage": {"input": 12, "output": 7, "unit": "TOKENS", "totalCost": 0.00042},
            },
        ),
        envelope(
            "ev-06",
            "event-create",
            "2026-11-22T09:50:27.600000Z",
            {
                "id": EVENT_ID,
                "traceId": TRACE_ID,
                "name": "cache-hit",
                "startTime": "2026-11-22T09:50:27.600000Z",
                "trace": {"release": "1.2.3"},  # nested stray key on standalone events
            },
        ),
        envelope(
            "ev-07",
            "span-update",
            "2026-11-22T09:50:27.700000Z",
            {"id": SPAN_ID, "traceId": TRACE_ID, "endTime": "2026-11-22T09:50:27.700000Z", "output": None},
        ),
        envelope(
            "ev-08",
            "trace-create",
            "2026-11-22T09:50:27.800000Z",
            {
                "id": TRACE_ID,
                "output": {"answer": "An observability backend."},
                "end_time": "2026-11-22T09:50:27.800000Z",
            },
        ),
        envelope(
            "ev-09",
            "score-create",
            "2026-11-22T09:50:27.900000Z",
            {
                "id": SCORE_ID,
                "traceId": TRACE_ID,
                "name": "helpfulness",
                "value": 0.9,
                "comment": "good",
                "parent_observation_id": None,  # stray snake_case on score bodies
            },
        ),
    ]


def ingestion_body(batch: list[dict[str, Any]], metadata: dict[str, Any] | None = None) -> bytes:
    request: dict[str, Any] = {"batch": batch}
    if metadata is not None:
        request["metadata"] = {**metadata, "batch_size": len(batch)}
    return json.dumps(request).encode()


def js_score_batch() -> bytes:
    """JS SDK v5: score-create events only, no request metadata."""
    return ingestion_body(
        [
            envelope(
                "0d6c1d8e-0001-4b43-9a5e-5f7d5b0c0001",
                "score-create",
                "2026-11-22T10:00:00.000Z",
                {
                    "id": "6a7e1b7c-0001-4c2d-8f3e-1a2b3c4d5e01",
                    "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                    "name": "accuracy",
                    "value": 0.75,
                    "dataType": "NUMERIC",
                },
            ),
            envelope(
                "0d6c1d8e-0002-4b43-9a5e-5f7d5b0c0002",
                "score-create",
                "2026-11-22T10:00:00.001Z",
                {
                    "id": "6a7e1b7c-0002-4c2d-8f3e-1a2b3c4d5e02",
                    "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                    "observationId": "00f067aa0ba902b7",
                    "name": "correct",
                    "value": 1,
                    "dataType": "BOOLEAN",
                },
            ),
            envelope(
                "0d6c1d8e-0003-4b43-9a5e-5f7d5b0c0003",
                "score-create",
                "2026-11-22T10:00:00.002Z",
                {
                    "id": "6a7e1b7c-0003-4c2d-8f3e-1a2b3c4d5e03",
                    "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                    "name": "tone",
                    "value": "friendly",
                    "dataType": "CATEGORICAL",
                    "environment": "Production",
                },
            ),
        ]
    )


def py_v5_scores_array() -> bytes:
    """py v5 ``POST /api/public/scores``: a JSON array, nulls omitted, dataType only when given."""
    return json.dumps(
        [
            {
                "id": "a1b2c3d4e5f60718",
                "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                "name": "relevance",
                "value": 1.0,
                "timestamp": "2026-11-22T09:50:26.794048Z",
            },
            {
                "id": "a1b2c3d4e5f60719",
                "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                "observationId": "00f067aa0ba902b7",
                "name": "verdict",
                "value": "pass",
                "comment": "looks right",
                "environment": "staging",
                "metadata": {"judge": "gpt-4o"},
                "timestamp": "2026-11-22T09:50:26.794100Z",
            },
            {
                "id": "a1b2c3d4e5f6071a",
                "datasetRunId": "3c8a9e1f2b4d6071",
                "name": "exact_match",
                "value": 0.0,
                "dataType": "BOOLEAN",
                "timestamp": "2026-11-22T09:50:26.794200Z",
            },
        ]
    ).encode()
