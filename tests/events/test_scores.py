from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest

from spyglass.collector.events import (
    EventError,
    InvalidRequest,
    ScoreConfig,
    ScoreConfigCategory,
    ScoreCreate,
    ScoreRejected,
    apply_score_config,
    build_scores_response,
    decode_event,
    merge_score,
    parse_ingestion_body,
    parse_scores_body,
)
from spyglass.store.clickhouse.rows import ScoreRow

from .wire import envelope, js_score_batch, py_v5_scores_array

TS = "2026-11-22T10:00:00Z"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
VERSION = 1_795_400_000.5


def score(body: dict[str, Any], event_id: str = "e", timestamp: str = TS) -> ScoreCreate | EventError:
    result = decode_event(json.dumps(envelope(event_id, "score-create", timestamp, body)).encode())
    assert isinstance(result, ScoreCreate | EventError)
    return result


def accepted(body: dict[str, Any]) -> ScoreCreate:
    result = score(body)
    assert isinstance(result, ScoreCreate), result
    return result


def rejected(body: dict[str, Any]) -> str:
    result = score(body)
    assert isinstance(result, EventError), f"accepted {result!r}"
    return result.message


def row_of(body: dict[str, Any]) -> ScoreRow:
    return merge_score(None, [accepted({"id": "s", "traceId": "t", **body})], "p", VERSION)


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "data_type", "inferred"),
    [
        (0.5, None, "NUMERIC"),
        (3, None, "NUMERIC"),
        ("good", None, "CATEGORICAL"),
        (True, None, "BOOLEAN"),
        (2.5, "NUMERIC", "NUMERIC"),
        ("a", "CATEGORICAL", "CATEGORICAL"),
        (1, "BOOLEAN", "BOOLEAN"),
        (0.0, "BOOLEAN", "BOOLEAN"),
        (False, "boolean", "BOOLEAN"),
        ("better answer", "CORRECTION", "CORRECTION"),
        ("free text", "TEXT", "TEXT"),
    ],
)
def test_accepted_values_per_data_type(value: Any, data_type: str | None, inferred: str) -> None:
    body: dict[str, Any] = {"name": "n", "value": value}
    if data_type is not None:
        body["dataType"] = data_type
    event = accepted(body)
    assert event.body.effective_data_type == inferred
    assert event.body.data_type == (data_type.upper() if data_type else None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"name": "n", "value": "x", "dataType": "NUMERIC"},
            "body.value: must be a number for data type NUMERIC, got a string",
        ),
        (
            {"name": "n", "value": True, "dataType": "NUMERIC"},
            "body.value: must be a number for data type NUMERIC, got a boolean",
        ),
        (
            {"name": "n", "value": 1, "dataType": "CATEGORICAL"},
            "body.value: must be a string for data type CATEGORICAL, got a number",
        ),
        (
            {"name": "n", "value": 2, "dataType": "BOOLEAN"},
            "body.value: must be 0, 1, true or false for data type BOOLEAN, got 2",
        ),
        (
            {"name": "n", "value": "yes", "dataType": "BOOLEAN"},
            "body.value: must be 0, 1, true or false for data type BOOLEAN, got 'yes'",
        ),
        ({"name": "n", "value": "", "dataType": "TEXT"}, "body.value: must be 1 to 500 characters for data type TEXT"),
        (
            {"name": "n", "value": "x" * 501, "dataType": "TEXT"},
            "body.value: must be 1 to 500 characters for data type TEXT",
        ),
        (
            {"name": "n", "value": 1, "dataType": "CORRECTION"},
            "body.value: must be a string for data type CORRECTION, got a number",
        ),
        (
            {"name": "n", "value": "x", "dataType": "CORRECTION", "configId": "c"},
            "body.configId: is not allowed for CORRECTION scores",
        ),
        (
            {"name": "n", "value": "x", "dataType": "CORRECTION", "sessionId": "s"},
            "body.dataType: CORRECTION scores must target a trace or an observation",
        ),
        (
            {"name": "n", "value": "x", "dataType": "CORRECTION", "datasetRunId": "r"},
            "body.dataType: CORRECTION scores must target a trace or an observation",
        ),
        (
            {"name": "n", "value": 1, "dataType": "PERCENT"},
            "body.dataType: must be one of BOOLEAN, CATEGORICAL, CORRECTION, NUMERIC, TEXT, got 'PERCENT'",
        ),
        ({"name": "", "value": 1}, "body.name: must not be empty"),
        ({"name": "  ", "value": 1}, "body.name: must not be empty"),
        ({"value": 1}, "body.name: is required"),
        ({"name": "n"}, "body.value: is required"),
        ({"name": "n", "value": None}, "body.value: expected bool | int | float | str, got null"),
        ({"name": "n", "value": [1]}, "body.value: expected bool | int | float | str, got array"),
        ({"name": "n", "value": 1, "source": "USER"}, "body.source: must be one of ANNOTATION, API, EVAL, got 'USER'"),
        ({"name": "n", "value": 1, "source": "ANNOTATION"}, "body.configId: is required for ANNOTATION scores"),
    ],
)
def test_rejected_scores_say_which_field_is_wrong(body: dict[str, Any], message: str) -> None:
    assert rejected(body) == message


def test_score_environment_metadata_and_source() -> None:
    event = accepted({"name": "n", "value": 1, "environment": "Langfuse-Staging", "metadata": "note", "source": "eval"})
    assert event.body.environment == "staging"
    assert event.body.metadata == {"metadata": "note"}
    assert event.body.source == "EVAL"
    assert accepted({"name": "n", "value": 1}).body.source is None


# --- rows --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "columns"),
    [
        ({"value": 0.75}, ("NUMERIC", 0.75, None, "")),
        ({"value": 1, "dataType": "BOOLEAN"}, ("BOOLEAN", 1.0, "True", "")),
        ({"value": False}, ("BOOLEAN", 0.0, "False", "")),
        ({"value": "friendly"}, ("CATEGORICAL", 0.0, "friendly", "")),
        ({"value": "long note", "dataType": "TEXT"}, ("TEXT", 0.0, "long note", "")),
        ({"value": "the right output", "dataType": "CORRECTION"}, ("CORRECTION", 0.0, None, "the right output")),
    ],
)
def test_stored_value_columns_per_type(body: dict[str, Any], columns: tuple[Any, ...]) -> None:
    row = row_of({"name": "n", **body})
    assert (row.data_type, row.value, row.string_value, row.long_string_value) == columns


def test_score_merge_keeps_immutables_and_replaces_the_value_columns_as_one() -> None:
    first = accepted(
        {"id": "s", "traceId": "t-1", "name": "tone", "value": "calm", "comment": "c1", "environment": "prod"}
    )
    second = score(
        {"id": "s", "traceId": "t-2", "name": "tone", "value": 0.3, "environment": "dev", "metadata": {"k": 1}},
        event_id="e2",
        timestamp="2026-11-22T10:00:01Z",
    )
    assert isinstance(second, ScoreCreate)
    row = merge_score(None, [second, first], "p", VERSION)
    assert (row.trace_id, row.environment) == ("t-1", "prod")
    assert row.timestamp == datetime(2026, 11, 22, 10, tzinfo=UTC).timestamp()
    assert (row.data_type, row.value, row.string_value) == ("NUMERIC", 0.3, None)
    assert row.comment == "c1"
    assert row.metadata == {"k": "1"}
    assert row.source == "API"
    again = merge_score(row, [accepted({"id": "s", "name": "tone", "value": 1, "source": "EVAL"})], "p", VERSION + 1)
    assert (again.source, again.created_at, again.event_ts) == ("EVAL", VERSION, VERSION + 1)


def test_a_score_without_trace_takes_the_first_one_named_later() -> None:
    session_score = merge_score(
        None, [accepted({"id": "s", "sessionId": "sess", "name": "n", "value": 1})], "p", VERSION
    )
    assert session_score.trace_id is None and session_score.session_id == "sess"
    linked = merge_score(session_score, [accepted({"id": "s", "traceId": "t", "name": "n", "value": 1})], "p", VERSION)
    assert linked.trace_id == "t"


def test_the_body_timestamp_is_the_score_time() -> None:
    event = accepted({"id": "s", "name": "n", "value": 1, "timestamp": "2026-11-01T00:00:00.000001Z"})
    row = merge_score(None, [event], "p", VERSION)
    assert row.timestamp == datetime(2026, 11, 1, 0, 0, 0, 1, tzinfo=UTC).timestamp()


def test_js_scores_become_rows() -> None:
    result = parse_ingestion_body(js_score_batch())
    rows = [merge_score(None, [event], "p", VERSION) for event in result.events]  # type: ignore[list-item]
    assert [(r.name, r.data_type, r.value, r.string_value) for r in rows] == [
        ("accuracy", "NUMERIC", 0.75, None),
        ("correct", "BOOLEAN", 1.0, "True"),
        ("tone", "CATEGORICAL", 0.0, "friendly"),
    ]
    assert rows[1].observation_id == "00f067aa0ba902b7"
    assert rows[2].environment == "production"


# --- POST /api/public/scores -------------------------------------------------------------------


def ids() -> Any:
    counter = count(1)
    return lambda: f"gen-{next(counter)}"


def test_py_v5_array_is_accepted_with_202() -> None:
    request = parse_scores_body(py_v5_scores_array(), now=NOW, new_id=ids())
    assert not request.single and request.errors == []
    assert [e.body.id for e in request.events] == ["a1b2c3d4e5f60718", "a1b2c3d4e5f60719", "a1b2c3d4e5f6071a"]
    assert [e.body.effective_data_type for e in request.events] == ["NUMERIC", "CATEGORICAL", "BOOLEAN"]
    assert request.events[0].timestamp == datetime(2026, 11, 22, 9, 50, 26, 794048, tzinfo=UTC)
    assert request.events[1].body.environment == "staging"
    assert build_scores_response(request) == (202, {"message": "Accepted"})
    run_score = merge_score(None, [request.events[2]], "p", VERSION)
    assert (run_score.dataset_run_id, run_score.trace_id, run_score.string_value) == ("3c8a9e1f2b4d6071", None, "False")


def test_array_with_bad_items_answers_207_with_counts() -> None:
    body = json.dumps([{"id": "a", "name": "n", "value": 1}, {"id": "b", "name": "n"}, 5]).encode()
    request = parse_scores_body(body, now=NOW, new_id=ids())
    assert [e.body.id for e in request.events] == ["a"]
    status, answer = build_scores_response(request)
    assert status == 207
    assert answer == {
        "accepted": 1,
        "rejected": 2,
        "errors": [
            {"id": "b", "message": "value: is required"},
            {"id": "unknown", "message": "score: expected object, got int"},
        ],
    }


def test_single_score_gets_an_id_and_the_current_time() -> None:
    request = parse_scores_body(b'{"name": "feedback", "value": 1, "traceId": "t"}', now=NOW, new_id=ids())
    assert request.single
    (event,) = request.events
    assert event.body.id == "gen-1" and event.id == "gen-2"
    assert event.timestamp == NOW
    assert build_scores_response(request) == (200, {"id": "gen-1"})


def test_single_score_keeps_its_own_id_and_naive_times_are_utc() -> None:
    request = parse_scores_body(
        b'{"id": "mine", "name": "n", "value": "ok", "timestamp": "2026-11-22T09:00:00"}', now=NOW, new_id=ids()
    )
    assert request.events[0].body.id == "mine"
    assert request.events[0].timestamp == datetime(2026, 11, 22, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"name": "n", "value": "x", "dataType": "BOOLEAN"}', "value: must be 0, 1, true or false"),
        (b"not json", "request body is not valid JSON"),
        (b'"just a string"', "score: expected object, got str"),
    ],
)
def test_single_invalid_score_raises(body: bytes, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_scores_body(body, now=NOW)
    assert str(caught.value).startswith(message)


# --- score configs -----------------------------------------------------------------------------

NUMERIC = ScoreConfig(id="cfg-n", name="quality", data_type="NUMERIC", min_value=0.0, max_value=1.0)
CATEGORICAL = ScoreConfig(
    id="cfg-c",
    name="tone",
    data_type="CATEGORICAL",
    categories=[ScoreConfigCategory(label="calm", value=1), ScoreConfigCategory(label="rude", value=-1)],
)
BOOLEAN = ScoreConfig(id="cfg-b", name="correct", data_type="BOOLEAN")
TEXT = ScoreConfig(id="cfg-t", name="note", data_type="TEXT")


def configured(body: dict[str, Any], config: ScoreConfig) -> ScoreRow | ScoreRejected:
    event = accepted({"id": "s", "name": "whatever", "configId": config.id, **body})
    row = merge_score(None, [event], "p", VERSION)
    return apply_score_config(row, config, declared_data_type=event.body.data_type)


def test_numeric_config_overrides_the_name_and_checks_the_range() -> None:
    row = configured({"value": 0.4}, NUMERIC)
    assert isinstance(row, ScoreRow)
    assert (row.name, row.config_id, row.data_type, row.value) == ("quality", "cfg-n", "NUMERIC", 0.4)
    too_big = configured({"value": 1.5}, NUMERIC)
    assert isinstance(too_big, ScoreRejected) and too_big.score_id == "s"
    assert too_big.message == "value 1.5 is above the config maximum 1"
    assert isinstance(configured({"value": -0.1}, NUMERIC), ScoreRejected)


def test_categorical_config_maps_the_label_to_its_value() -> None:
    row = configured({"value": "rude"}, CATEGORICAL)
    assert isinstance(row, ScoreRow)
    assert (row.data_type, row.value, row.string_value) == ("CATEGORICAL", -1.0, "rude")
    unknown = configured({"value": "loud"}, CATEGORICAL)
    assert isinstance(unknown, ScoreRejected) and "not a category" in unknown.message


def test_boolean_config_accepts_an_undeclared_number_but_not_a_declared_mismatch() -> None:
    row = configured({"value": 1}, BOOLEAN)
    assert isinstance(row, ScoreRow)
    assert (row.data_type, row.value, row.string_value) == ("BOOLEAN", 1.0, "True")
    mismatch = configured({"value": 1, "dataType": "NUMERIC"}, BOOLEAN)
    assert isinstance(mismatch, ScoreRejected)
    assert mismatch.message == "dataType NUMERIC does not match config type BOOLEAN"
    assert isinstance(configured({"value": 0.5}, BOOLEAN), ScoreRejected)


def test_text_config_and_kind_mismatches() -> None:
    row = configured({"value": "a remark"}, TEXT)
    assert isinstance(row, ScoreRow) and (row.data_type, row.value, row.string_value) == ("TEXT", 0.0, "a remark")
    wrong_kind = configured({"value": 3}, TEXT)
    assert isinstance(wrong_kind, ScoreRejected)
    assert wrong_kind.message == "value must be a string for config type TEXT"
    assert isinstance(configured({"value": "calm"}, NUMERIC), ScoreRejected)


def test_archived_config_rejects() -> None:
    archived = ScoreConfig(id="cfg-a", name="old", data_type="NUMERIC", is_archived=True)
    result = configured({"value": 1}, archived)
    assert isinstance(result, ScoreRejected) and "archived" in result.message
