"""Arbitrary input never raises anything but the documented errors, and what validation accepts
always merges into rows that encode."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spyglass.collector.events import (
    EVENT_TYPES,
    IngestionEvent,
    InvalidRequest,
    apply_score_config,
    convert_legacy_request,
    group_events,
    merge_observation,
    merge_score,
    merge_trace,
    parse_ingestion_body,
    parse_scores_body,
)
from spyglass.collector.events.score_config import ScoreConfig, ScoreConfigCategory

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
timestamps = st.sampled_from(
    ["2026-11-22T09:50:26.100Z", "2026-11-22T09:50:26.1+02:00", "2026-11-22T09:50:26", "2026-11-21T23:59:59.999999Z"]
)
ids = st.sampled_from(["a", "b", "t-1", "ü-id"]) | st.text(max_size=12)


def mostly(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a well-typed value, now and then any JSON at all."""
    return st.integers(0, 9).flatmap(lambda n: json_values if n == 0 else good)


STRING_KEYS = [
    "name", "statusMessage", "parentObservationId", "version", "release", "userId", "sessionId", "model",
    "environment", "promptName", "configId", "comment", "observationId", "datasetRunId", "runName",
    "datasetItemId",
]  # fmt: skip
OTHER_KEYS: dict[str, st.SearchStrategy[Any]] = {
    "id": ids,
    "traceId": ids,
    "timestamp": timestamps,
    "startTime": timestamps,
    "endTime": timestamps,
    "completionStartTime": timestamps,
    "input": json_values,
    "output": json_values,
    "metadata": json_values,
    "log": json_values,
    "public": st.booleans(),
    "level": st.sampled_from(["DEBUG", "default", "ERROR", "bad"]),
    "type": st.sampled_from(["SPAN", "generation", "EVENT", "AGENT"]),
    "dataType": st.sampled_from(["NUMERIC", "CATEGORICAL", "BOOLEAN", "TEXT", "CORRECTION", "X"]),
    "source": st.sampled_from(["API", "EVAL", "ANNOTATION"]),
    "value": json_scalars,
    "tags": st.lists(st.text(max_size=5), max_size=3),
    "modelParameters": st.dictionaries(st.text(max_size=5), json_values, max_size=3),
    "usage": st.dictionaries(
        st.sampled_from(["input", "output", "total", "promptTokens", "totalCost", "unit"]), json_scalars, max_size=4
    ),
    "usageDetails": st.dictionaries(
        st.sampled_from(["input", "prompt_tokens", "completion_tokens", "prompt_tokens_details", "cached"]),
        json_values,
        max_size=4,
    ),
    "costDetails": st.dictionaries(st.sampled_from(["input", "total", "x"]), json_scalars, max_size=3),
    "promptVersion": st.integers(min_value=-5, max_value=70000),
}
VALUES = {**{key: st.none() | st.text(max_size=10) for key in STRING_KEYS}, **OTHER_KEYS}


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(sorted(VALUES)), max_size=10, unique=True))
    body = {key: draw(mostly(VALUES[key])) for key in keys}
    if draw(st.booleans()):
        body.setdefault("id", draw(ids))
    return body


@st.composite
def events(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 19)) == 0:
        return draw(json_values)  # not even an event
    event_type = draw(mostly(st.sampled_from(sorted(EVENT_TYPES))))
    body = draw(bodies())
    if draw(st.integers(0, 3)) > 0:  # mostly supply what the type requires
        for key, strategy in (REQUIRED.get(event_type, {}) if isinstance(event_type, str) else {}).items():
            body.setdefault(key, draw(strategy))
    return {
        "id": draw(mostly(ids)),
        "timestamp": draw(mostly(aware_timestamps)),
        "type": event_type,
        "body": body,
    }


aware_timestamps = timestamps.filter(lambda text: text.endswith(("Z", ":00")))
REQUIRED: dict[Any, dict[str, st.SearchStrategy[Any]]] = {
    "score-create": {"name": st.text(min_size=1, max_size=5), "value": json_scalars},
    "sdk-log": {"log": json_values},
    "dataset-run-item-create": {"runName": ids, "datasetItemId": ids, "traceId": ids},
    "observation-create": {"type": OTHER_KEYS["type"]},
    "observation-update": {"type": OTHER_KEYS["type"]},
}


def merge_all(accepted: list[IngestionEvent]) -> None:
    for (entity, _), group in group_events(accepted).items():
        row: msgspec.Struct
        if entity == "trace":
            row = merge_trace(None, group, "p", 1.5)  # type: ignore[arg-type]
            row = merge_trace(row, group, "p", 2.5)  # type: ignore[arg-type]
        elif entity == "observation":
            row = merge_observation(None, group, "p", 1.5)  # type: ignore[arg-type]
            row = merge_observation(row, group, "p", 2.5)  # type: ignore[arg-type]
        elif entity == "score":
            row = merge_score(None, group, "p", 1.5)  # type: ignore[arg-type]
            config = ScoreConfig(
                id="c", name="n", data_type="CATEGORICAL", categories=[ScoreConfigCategory(label="a", value=1)]
            )
            apply_score_config(row, config)  # type: ignore[arg-type]
        else:
            continue
        msgspec.json.decode(msgspec.json.encode(row))  # the row is writable JSON


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(events(), max_size=8))
def test_any_batch_splits_into_events_and_errors_and_merges(batch: list[Any]) -> None:
    result = parse_ingestion_body(json.dumps({"batch": batch}).encode())
    assert len(result.events) + len(result.errors) == len(batch)
    assert all(error.status == 400 and error.message for error in result.errors)
    decoder = msgspec.json.Decoder(IngestionEvent)
    for event in result.events:
        assert decoder.decode(msgspec.json.encode(event)) == event
    merge_all(result.events)


@settings(max_examples=120, deadline=None)
@given(json_values | st.binary(max_size=40))
def test_any_body_raises_at_most_invalid_request(document: Any) -> None:
    data = document if isinstance(document, bytes) else json.dumps(document).encode()
    for parse in (
        parse_ingestion_body,
        parse_scores_body,
        lambda d: convert_legacy_request("generations", "POST", d),
        lambda d: convert_legacy_request("spans", "PATCH", d),
    ):
        try:
            parse(data)
        except InvalidRequest as error:
            assert str(error)


@settings(max_examples=120, deadline=None)
@given(st.lists(bodies(), max_size=4))
def test_any_scores_array_accepts_or_reports_each_item(items: list[dict[str, Any]]) -> None:
    request = parse_scores_body(json.dumps(items).encode())
    assert len(request.events) + len(request.errors) == len(items)
    for event in request.events:
        merge_score(None, [event], "p", 1.0)
