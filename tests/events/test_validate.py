from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from spyglass.collector.events import (
    EVENT_TYPES,
    INGESTION_STATUS,
    DatasetRunItemCreate,
    EventError,
    IngestionEvent,
    InvalidRequest,
    SdkLog,
    ValidatedBatch,
    build_ingestion_response,
    decode_event,
    entity_key,
    group_events,
    observation_type,
    parse_ingestion_body,
)
from spyglass.collector.events.bodies import JSON_NULL, GenerationBody

from .wire import GEN_ID, SPAN_ID, TRACE_ID, envelope, ingestion_body, js_score_batch, py_v2_tracing_batch

TS = "2026-11-22T09:50:26.100Z"


def one(event: dict[str, Any]) -> IngestionEvent | EventError:
    return decode_event(json.dumps(event).encode())


def error_of(event: dict[str, Any]) -> EventError:
    result = one(event)
    assert isinstance(result, EventError), f"expected a rejection, got {result!r}"
    return result


def test_py_v2_batch_is_accepted_whole_with_its_request_metadata(v2_batch: ValidatedBatch) -> None:
    assert v2_batch.errors == []
    assert [event.id for event in v2_batch.events] == [f"ev-{i:02d}" for i in range(1, 10)]
    assert v2_batch.metadata["sdk_name"] == "python"
    assert v2_batch.metadata["batch_size"] == 9


def test_stray_snake_case_and_nested_trace_keys_are_ignored(v2_batch: ValidatedBatch) -> None:
    event = next(e for e in v2_batch.events if e.type == "event-create")
    assert event.body.name == "cache-hit"  # type: ignore[union-attr]
    assert '"trace":' not in msgspec.json.encode(event.body).decode()
    trace = next(e for e in v2_batch.events if e.type == "trace-create")
    assert trace.body.timestamp is not None  # camelCase wins; the stray start_time is dropped
    assert b"start_time" not in msgspec.json.encode(trace)


def test_groups_follow_entity_and_merge_order(v2_batch: ValidatedBatch) -> None:
    groups = group_events(v2_batch.events)
    assert list(groups) == [
        ("trace", TRACE_ID),
        ("observation", SPAN_ID),
        ("observation", GEN_ID),
        ("observation", "3f9d0c1e-5b8a-4d3e-b1f0-2a6c9e8d7f10"),
        ("score", "score-1"),
    ]
    assert [e.id for e in groups[("trace", TRACE_ID)]] == ["ev-01", "ev-04", "ev-08"]
    assert [e.type for e in groups[("observation", GEN_ID)]] == ["generation-create", "generation-update"]


def test_creates_sort_before_updates_on_equal_timestamps_and_ties_keep_batch_order() -> None:
    batch = [
        envelope("u", "span-update", TS, {"id": "s"}),
        envelope("c", "span-create", TS, {"id": "s"}),
        envelope("t1", "trace-create", TS, {"id": "t", "name": "first"}),
        envelope("t2", "trace-create", TS, {"id": "t", "name": "second"}),
        envelope("early", "span-update", "2026-11-22T09:50:26.000Z", {"id": "s"}),
    ]
    groups = group_events(parse_ingestion_body(ingestion_body(batch)).events)
    assert [e.id for e in groups[("observation", "s")]] == ["early", "c", "u"]
    assert [e.id for e in groups[("trace", "t")]] == ["t1", "t2"]


def test_every_event_type_is_accepted() -> None:
    bodies: dict[str, dict[str, Any]] = {
        "trace-create": {"id": "t"},
        "score-create": {"name": "n", "value": 1},
        "sdk-log": {"log": {"message": "hello"}},
        "observation-create": {"type": "generation", "id": "o"},
        "observation-update": {"type": "SPAN", "id": "o"},
        "dataset-run-item-create": {"runName": "r", "datasetItemId": "d", "traceId": "t"},
    }
    for event_type in sorted(EVENT_TYPES):
        body = bodies.get(event_type, {"id": "o", "traceId": "t"})
        result = one(envelope(f"e-{event_type}", event_type, TS, body))
        assert not isinstance(result, EventError), (event_type, result)
        assert result.type == event_type
    assert len(EVENT_TYPES) == 18


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("event-create", "EVENT"),
        ("span-update", "SPAN"),
        ("generation-update", "GENERATION"),
        ("agent-create", "AGENT"),
        ("tool-create", "TOOL"),
        ("chain-create", "CHAIN"),
        ("retriever-create", "RETRIEVER"),
        ("evaluator-create", "EVALUATOR"),
        ("embedding-create", "EMBEDDING"),
        ("guardrail-create", "GUARDRAIL"),
    ],
)
def test_observation_type_comes_from_the_event_type(event_type: str, expected: str) -> None:
    event = one(envelope("e", event_type, TS, {"id": "o"}))
    assert observation_type(event) == expected  # type: ignore[arg-type]


def test_legacy_observation_events_take_the_type_from_the_body_and_may_omit_the_id() -> None:
    event = one(envelope("env-id", "observation-create", TS, {"type": "event", "name": "x"}))
    assert observation_type(event) == "EVENT"  # type: ignore[arg-type]
    assert entity_key(event) == ("observation", "env-id")  # type: ignore[arg-type]
    bad = error_of(envelope("e", "observation-update", TS, {"type": "AGENT", "id": "o"}))
    assert bad.message == "body.type: must be one of EVENT, GENERATION, SPAN, got 'AGENT'"


def test_body_without_id_takes_the_envelope_id_so_a_resent_batch_hits_the_same_entity() -> None:
    event = one(envelope("evt-77", "trace-create", TS, {"name": "x"}))
    assert entity_key(event) == ("trace", "evt-77")  # type: ignore[arg-type]
    score = one(envelope("evt-78", "score-create", TS, {"name": "x", "value": 1}))
    assert entity_key(score) == ("score", "evt-78")  # type: ignore[arg-type]


def test_observation_events_must_name_their_observation() -> None:
    assert error_of(envelope("e", "span-create", TS, {"traceId": "t"})).message == "body.id: is required"
    assert error_of(envelope("e", "generation-update", TS, {"id": ""})).message == "body.id: must not be empty"


def test_sdk_log_and_dataset_run_items_are_typed_events() -> None:
    log = one(envelope("l", "sdk-log", TS, {"log": "boom"}))
    assert isinstance(log, SdkLog) and log.body.log == "boom" and entity_key(log) is None
    item = one(
        envelope(
            "d",
            "dataset-run-item-create",
            TS,
            {
                "runName": "run-1",
                "runDescription": None,
                "metadata": {"k": "v"},
                "datasetItemId": "item-1",
                "traceId": "trace-1",
                "observationId": None,
                "datasetVersion": "2026-11-01T00:00:00Z",
            },
        )
    )
    assert isinstance(item, DatasetRunItemCreate)
    assert (item.body.run_name, item.body.dataset_item_id, item.body.trace_id) == ("run-1", "item-1", "trace-1")
    assert item.body.dataset_version == "2026-11-01T00:00:00Z"
    assert entity_key(item) == ("dataset_run_item", "d")
    missing = error_of(envelope("d", "dataset-run-item-create", TS, {"runName": "r", "traceId": "t"}))
    assert missing.message == "body.datasetItemId: is required"


# --- envelope problems -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "error_id", "message"),
    [
        (
            envelope("bad\rid", "trace-create", TS, {}),
            "bad\rid",
            "id: must not contain a carriage return",
        ),
        (envelope("x" * 801, "trace-create", TS, {}), "x" * 801, "id: must be at most 800 characters, got 801"),
        (envelope("", "trace-create", TS, {}), "unknown", "id: must not be empty"),
        (
            envelope("e1", "trace-create", "2026-11-22T09:50:26", {}),
            "e1",
            "timestamp: needs a UTC offset or Z, e.g. 2024-05-01T12:00:00.000Z",
        ),
        (
            envelope("e1", "trace-create", "yesterday", {}),
            "e1",
            "timestamp: expected an ISO 8601 date-time such as 2024-05-01T12:00:00.000Z",
        ),
        (envelope("e1", "trace-created", TS, {}), "e1", "type: unknown event type 'trace-created'"),
        ({"id": "e1", "timestamp": TS, "body": {}}, "e1", "type: is required"),
        ({"id": "e1", "timestamp": TS, "type": "trace-create"}, "e1", "body: is required"),
        ({"id": 5, "timestamp": TS, "type": "trace-create", "body": {}}, "unknown", "id: expected str, got int"),
        (envelope("e1", "trace-create", TS, []), "e1", "body: expected object, got array"),
    ],
)
def test_envelope_errors_name_the_field(event: dict[str, Any], error_id: str, message: str) -> None:
    error = error_of(event)
    assert (error.id, error.status, error.message) == (error_id, 400, message)


def test_timestamps_with_offsets_and_nanoseconds_are_accepted() -> None:
    event = one(envelope("e", "trace-create", "2026-11-22T10:50:26.123456789+01:00", {}))
    assert not isinstance(event, EventError)
    assert event.timestamp == datetime(2026, 11, 22, 9, 50, 26, 123457, tzinfo=UTC)


def test_a_non_object_batch_entry_is_reported_as_unknown() -> None:
    result = parse_ingestion_body(b'{"batch": [42, "x", null]}')
    assert [(e.id, e.message) for e in result.errors] == [
        ("unknown", "event: expected object, got int"),
        ("unknown", "event: expected object, got str"),
        ("unknown", "event: expected object, got null"),
    ]


# --- body problems -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "body", "message"),
    [
        ("trace-create", {"name": "n" * 1001}, "body.name: must be at most 1000 characters"),
        ("trace-create", {"tags": "prod"}, "body.tags: expected array | null, got str"),
        ("trace-create", {"public": "yes"}, "body.public: expected bool | null, got str"),
        ("span-create", {"id": "s", "startTime": "noon"}, None),
        (
            "span-create",
            {"id": "s", "level": "LOUD"},
            "body.level: must be one of DEBUG, DEFAULT, ERROR, WARNING, got 'LOUD'",
        ),
        ("span-create", {"id": "s", "traceId": "a\rb"}, "body.traceId: must not contain a carriage return"),
        (
            "generation-create",
            {"id": "g", "promptName": "qa"},
            "body.promptName: promptName and promptVersion must be given together",
        ),
        (
            "generation-update",
            {"id": "g", "promptVersion": 2},
            "body.promptName: promptName and promptVersion must be given together",
        ),
        (
            "generation-create",
            {"id": "g", "promptName": "qa", "promptVersion": 70000},
            "body.promptVersion: must be between 0 and 65535",
        ),
        ("generation-create", {"id": "g", "usage": 12}, "body.usage: expected object | null, got int"),
        ("generation-create", {"id": "g", "usageDetails": [1]}, "body.usageDetails: expected object | null, got array"),
        (
            "generation-create",
            {"id": "g", "modelParameters": "t=0"},
            "body.modelParameters: expected object | null, got str",
        ),
    ],
)
def test_body_errors_name_the_field(event_type: str, body: dict[str, Any], message: str | None) -> None:
    error = error_of(envelope("e1", event_type, TS, body))
    assert error.id == "e1"
    if message is None:
        assert error.message.startswith("body.startTime: expected an ISO 8601 date-time")
    else:
        assert error.message == message


def test_body_times_may_be_naive_and_are_read_as_utc() -> None:
    event = one(envelope("e", "span-create", TS, {"id": "s", "startTime": "2026-11-22T09:50:26"}))
    assert not isinstance(event, EventError)
    assert event.body.start_time == datetime(2026, 11, 22, 9, 50, 26)  # type: ignore[union-attr]


def test_model_parameters_accept_strings_numbers_bools_lists_and_maps() -> None:
    params = {"temperature": "0.2", "max_tokens": 256, "stream": False, "stop": ["\n"], "logit_bias": {"1": 2}}
    event = one(envelope("e", "generation-create", TS, {"id": "g", "modelParameters": params}))
    assert isinstance(event.body, GenerationBody)  # type: ignore[union-attr]
    assert event.body.model_parameters == params  # type: ignore[union-attr]


def test_legacy_usage_shapes_and_usage_details_are_accepted_as_sent() -> None:
    for usage in (
        {"input": 12, "output": 7, "unit": "TOKENS", "totalCost": 0.1},
        {"promptTokens": 3, "completionTokens": 4, "totalTokens": 7},
    ):
        event = one(envelope("e", "generation-update", TS, {"id": "g", "usage": usage}))
        assert event.body.usage == usage  # type: ignore[union-attr]
    details = {"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 2}}
    event = one(envelope("e", "generation-update", TS, {"id": "g", "usageDetails": details}))
    assert event.body.usage_details == details  # type: ignore[union-attr]


def test_metadata_that_is_not_an_object_is_wrapped() -> None:
    for metadata in ("plain", ["a", "b"], 7, True):
        event = one(envelope("e", "span-create", TS, {"id": "s", "metadata": metadata}))
        assert event.body.metadata == {"metadata": metadata}  # type: ignore[union-attr]
    event = one(envelope("e", "span-create", TS, {"id": "s", "metadata": {"k": [1]}}))
    assert event.body.metadata == {"k": [1]}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        (None, "default"),
        ("Production", "production"),
        ("langfuse-prod", "prod"),
        ("LANGFUSE_langfuse-staging", "staging"),
        ("langfuseqa", "qa"),
        ("langfuse", "default"),
        ("has space", "default"),
        ("prod/eu", "default"),
        ("a" * 50, "a" * 40),
        ("dev_1-b", "dev_1-b"),
    ],
)
def test_environment_is_normalized_not_rejected(sent: str | None, stored: str) -> None:
    event = one(envelope("e", "span-create", TS, {"id": "s", "environment": sent}))
    assert event.body.environment == stored  # type: ignore[union-attr]


def test_input_and_output_keep_the_json_text_as_sent() -> None:
    event = one(envelope("e", "trace-create", TS, {"input": {"a": [1, 2]}, "output": None}))
    assert bytes(event.body.input) == b'{"a": [1, 2]}'  # type: ignore[union-attr]
    assert event.body.output == JSON_NULL  # type: ignore[union-attr]


# --- batches and responses ---------------------------------------------------------------------


def test_bad_events_are_reported_while_the_good_ones_succeed() -> None:
    batch = py_v2_tracing_batch()
    batch.insert(2, envelope("bad-1", "span-create", TS, {"traceId": TRACE_ID}))
    batch.append(envelope("bad-2", "score-create", TS, {"name": "x", "value": "high", "dataType": "NUMERIC"}))
    result = parse_ingestion_body(ingestion_body(batch))
    assert len(result.events) == 9
    assert [(e.id, e.message) for e in result.errors] == [
        ("bad-1", "body.id: is required"),
        ("bad-2", "body.value: must be a number for data type NUMERIC, got a string"),
    ]
    response = msgspec.json.decode(msgspec.json.encode(build_ingestion_response(result.events, result.errors)))
    assert INGESTION_STATUS == 207
    assert response["successes"][0] == {"id": "ev-01", "status": 201}
    assert len(response["successes"]) == 9
    assert response["errors"][0] == {
        "id": "bad-1",
        "status": 400,
        "message": "body.id: is required",
        "error": "Invalid request data",
    }


def test_js_score_batch_without_request_metadata() -> None:
    result = parse_ingestion_body(js_score_batch())
    assert result.errors == [] and result.metadata is None
    assert [e.body.effective_data_type for e in result.events] == ["NUMERIC", "BOOLEAN", "CATEGORICAL"]  # type: ignore[union-attr]
    assert result.events[2].body.environment == "production"  # type: ignore[union-attr]


def test_a_scores_only_key_gets_401_for_other_event_types() -> None:
    batch = [envelope("t", "trace-create", TS, {}), envelope("s", "score-create", TS, {"name": "n", "value": 1})]
    result = parse_ingestion_body(ingestion_body(batch), allowed_types=frozenset({"score-create", "sdk-log"}))
    assert [e.id for e in result.events] == ["s"]
    assert [(e.id, e.status) for e in result.errors] == [("t", 401)]
    assert "trace-create" in result.errors[0].message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "request body is not valid JSON"),
        (b"{batch: []}", "request body is not valid JSON"),
        (b"[]", "request body must be a JSON object with a `batch` array (body: expected object, got array)"),
        (b"{}", "request body must be a JSON object with a `batch` array (batch: is required)"),
        (
            b'{"batch": {}}',
            "request body must be a JSON object with a `batch` array (batch: expected array, got object)",
        ),
    ],
)
def test_a_body_that_is_not_a_batch_raises_one_clear_error(body: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_ingestion_body(body)
    assert str(caught.value).startswith(message)


def test_an_empty_batch_is_fine() -> None:
    result = parse_ingestion_body(b'{"batch": []}')
    assert result.events == [] and result.errors == []


def test_typed_events_round_trip_through_their_wire_encoding(v2_batch: ValidatedBatch) -> None:
    decoder = msgspec.json.Decoder(IngestionEvent)
    for event in v2_batch.events:
        again = decoder.decode(msgspec.json.encode(event))
        assert again == event
        assert msgspec.json.encode(again) == msgspec.json.encode(event)
