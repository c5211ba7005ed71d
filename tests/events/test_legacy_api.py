from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest

from spyglass.collector.events import (
    InvalidRequest,
    convert_legacy_request,
    merge_observation,
    merge_trace,
)
from spyglass.collector.events.envelopes import (
    EventCreate,
    GenerationCreate,
    GenerationUpdate,
    SpanCreate,
    SpanUpdate,
    TraceCreate,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def ids() -> Any:
    counter = count(1)
    return lambda: f"id-{next(counter)}"


def test_post_traces_is_a_trace_create() -> None:
    event = convert_legacy_request(
        "traces", "POST", b'{"id": "t", "name": "legacy", "tags": ["x"]}', now=NOW, new_id=ids()
    )
    assert isinstance(event, TraceCreate)
    assert (event.id, event.timestamp, event.body.id) == ("id-1", NOW, "t")
    row = merge_trace(None, [event], "p", 1.0)
    assert (row.name, row.tags, row.timestamp) == ("legacy", ["x"], NOW.timestamp())


def test_post_without_id_gets_one() -> None:
    event = convert_legacy_request("spans", "POST", b'{"traceId": "t", "name": "s"}', now=NOW, new_id=ids())
    assert isinstance(event, SpanCreate)
    assert event.body.id == "id-1" and event.id == "id-2"


def test_patch_spans_names_the_span_with_span_id() -> None:
    event = convert_legacy_request(
        "spans", "PATCH", b'{"spanId": "s", "endTime": "2026-11-22T12:00:01Z"}', now=NOW, new_id=ids()
    )
    assert isinstance(event, SpanUpdate) and event.body.id == "s"
    with pytest.raises(InvalidRequest, match="spanId: is required"):
        convert_legacy_request("spans", "PATCH", b'{"endTime": "2026-11-22T12:00:01Z"}', now=NOW)


def test_generations_map_prompt_and_completion_to_input_and_output() -> None:
    created = convert_legacy_request(
        "generations",
        "POST",
        b'{"id": "g", "traceId": "t", "prompt": [{"role": "user", "content": "hi"}], "model": "gpt-4o",'
        b' "usage": {"promptTokens": 3, "completionTokens": 2}}',
        now=NOW,
        new_id=ids(),
    )
    updated = convert_legacy_request(
        "generations", "PATCH", b'{"generationId": "g", "completion": "hello"}', now=NOW, new_id=ids()
    )
    assert isinstance(created, GenerationCreate) and isinstance(updated, GenerationUpdate)
    row = merge_observation(None, [created, updated], "p", 1.0)
    assert json.loads(row.input or "") == [{"role": "user", "content": "hi"}]  # re-encoded compactly
    assert row.output == "hello"
    assert row.provided_usage_details == {"input": 3, "output": 2, "total": 5}


def test_post_events_is_an_event_create() -> None:
    event = convert_legacy_request("events", "POST", b'{"traceId": "t", "name": "e"}', now=NOW, new_id=ids())
    assert isinstance(event, EventCreate) and event.body.name == "e"


@pytest.mark.parametrize(
    ("resource", "method", "body", "message"),
    [
        ("traces", "PATCH", b"{}", "PATCH is not supported on /api/public/traces"),
        ("events", "PATCH", b"{}", "PATCH is not supported on /api/public/events"),
        ("spans", "POST", b"[1]", "request body must be a JSON object, got list"),
        ("spans", "POST", b"{", "request body is not valid JSON"),
        ("spans", "POST", b'{"level": "LOUD"}', "level: must be one of DEBUG, DEFAULT, ERROR, WARNING, got 'LOUD'"),
        ("traces", "POST", b'{"timestamp": "later"}', "timestamp: expected an ISO 8601 date-time"),
    ],
)
def test_invalid_requests_raise(resource: Any, method: Any, body: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        convert_legacy_request(resource, method, body, now=NOW)
    assert str(caught.value).startswith(message)
