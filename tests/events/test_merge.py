from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from spyglass.collector.events import (
    IngestionEvent,
    ValidatedBatch,
    group_events,
    merge_observation,
    merge_trace,
    needs_wrapper_trace,
    parse_ingestion_body,
    wrapper_trace_event,
)
from spyglass.collector.events.columns import deep_merge, io_text, merge_metadata
from spyglass.store.clickhouse.rows import ObservationRow, TraceRow

from .wire import EVENT_ID, GEN_ID, SPAN_ID, TRACE_ID, envelope, ingestion_body

VERSION = 1_795_400_000.123456
LATER = 1_795_500_000.5


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def events(*items: dict[str, Any]) -> list[Any]:
    result = parse_ingestion_body(ingestion_body(list(items)))
    assert result.errors == []
    return result.events


def ev(event_id: str, event_type: str, timestamp: str, body: dict[str, Any]) -> IngestionEvent:
    (event,) = events(envelope(event_id, event_type, timestamp, body))
    return event  # type: ignore[no-any-return]


# --- traces ------------------------------------------------------------------------------------


def test_py_v2_trace_sent_three_times_merges_into_one_row(v2_batch: ValidatedBatch) -> None:
    trace_events = group_events(v2_batch.events)[("trace", TRACE_ID)]
    row = merge_trace(None, trace_events, "proj", VERSION)  # type: ignore[arg-type]
    assert row.id == TRACE_ID and row.project_id == "proj"
    assert row.timestamp == epoch("2026-11-22T09:50:26.100000+00:00")
    assert row.name == "qa-pipeline"  # later partial bodies without a name keep it
    assert row.user_id == "user-1"
    assert row.session_id == "session-9"  # only the second send had it
    assert row.release == "1.2.3"
    assert row.tags == ["alpha", "beta", "prod"]
    assert row.metadata == {"team": "search", "limits": '{"max":3,"min":1}'}
    assert row.input == '{"question": "What is Spyglass?"}'
    assert row.output == '{"answer": "An observability backend."}'
    assert row.environment == "default"
    assert row.public is False and row.bookmarked is False
    assert (row.created_at, row.updated_at, row.event_ts, row.is_deleted) == (VERSION, VERSION, VERSION, 0)


def stored_trace() -> TraceRow:
    return TraceRow(
        id="t",
        project_id="proj",
        timestamp=1_795_000_000.25,
        name="old",
        user_id="u-1",
        environment="prod",
        metadata={"a": "1", "nested": '{"x":1,"y":{"z":2}}', "plain": "text"},
        tags=["b"],
        public=True,
        bookmarked=True,
        input="stored input",
        output='{"v":1}',
        created_at=1_795_000_001.0,
        updated_at=1_795_000_001.0,
        event_ts=1_795_000_001.0,
    )


def test_trace_update_keeps_immutables_and_lets_later_non_null_values_win() -> None:
    update = ev(
        "e",
        "trace-create",
        "2026-11-22T10:00:00Z",
        {
            "id": "t",
            "name": "new",
            "userId": None,
            "environment": "staging",
            "timestamp": "2026-11-23T00:00:00Z",  # later than stored: ignored
            "metadata": {"nested": {"y": {"w": 3}}, "b": 2, "plain": None},
            "tags": ["a", "b"],
            "public": False,
            "output": "final answer",
        },
    )
    row = merge_trace(stored_trace(), [update], "ignored-project", LATER)  # type: ignore[list-item]
    assert (row.id, row.project_id, row.environment) == ("t", "proj", "prod")
    assert row.timestamp == 1_795_000_000.25
    assert row.created_at == 1_795_000_001.0
    assert (row.updated_at, row.event_ts) == (LATER, LATER)
    assert row.name == "new"
    assert row.user_id == "u-1"  # null never overwrites
    assert row.public is False and row.bookmarked is True
    assert row.metadata == {"a": "1", "nested": '{"x":1,"y":{"z":2,"w":3}}', "plain": "text", "b": "2"}
    assert row.tags == ["a", "b"]
    assert row.input == "stored input"  # no event had an input
    assert row.output == "final answer"  # a plain string is stored as-is


def test_an_explicit_earlier_trace_timestamp_replaces_a_placeholder() -> None:
    # A partial trace-create without a timestamp was merged first: its envelope time stood in.
    first = merge_trace(None, [ev("a", "trace-create", "2026-11-22T10:00:05Z", {"id": "t"})], "p", VERSION)  # type: ignore[list-item]
    assert first.timestamp == epoch("2026-11-22T10:00:05+00:00")
    real = ev("b", "trace-create", "2026-11-22T10:00:00Z", {"id": "t", "timestamp": "2026-11-22T09:59:59.5Z"})
    second = merge_trace(first, [real], "p", LATER)  # type: ignore[list-item]
    assert second.timestamp == epoch("2026-11-22T09:59:59.5+00:00")
    assert second.created_at == VERSION


def test_empty_metadata_never_overwrites_and_lists_are_replaced_whole() -> None:
    stored = {"k": '{"a":1}', "l": "[1,2,3]"}
    assert merge_metadata(stored, [{"k": {}}, {}, None]) == stored
    assert merge_metadata(stored, [{"l": [9]}]) == {"k": '{"a":1}', "l": "[9]"}
    assert merge_metadata({}, [{"k": {}}]) == {"k": "{}"}
    assert merge_metadata({"s": "not json {"}, [{"s": {"a": 1}}]) == {"s": '{"a":1}'}
    assert merge_metadata({}, [{"n": 1.5, "b": True, "s": "x", "o": {"q": None}}]) == {
        "n": "1.5",
        "b": "true",
        "s": "x",
        "o": '{"q":null}',
    }


def test_deep_merge_does_not_modify_its_inputs() -> None:
    base = {"a": {"b": 1}}
    update = {"a": {"c": 2}}
    assert deep_merge(base, update) == {"a": {"b": 1, "c": 2}}
    assert base == {"a": {"b": 1}} and update == {"a": {"c": 2}}


def test_io_text_stores_strings_bare_and_everything_else_as_json_text() -> None:
    assert io_text(msgspec.Raw(b'"he said \\"hi\\""')) == 'he said "hi"'
    assert io_text(msgspec.Raw(b"[1, 2]")) == "[1, 2]"
    assert io_text(msgspec.Raw(b"0")) == "0"
    assert io_text(msgspec.Raw(b"null")) is None
    assert io_text(msgspec.Raw('{"ü": "✓"}'.encode())) == '{"ü": "✓"}'


def test_last_non_null_input_wins_even_when_it_is_falsy() -> None:
    trace_events = events(
        envelope("1", "trace-create", "2026-11-22T10:00:00Z", {"id": "t", "input": "first"}),
        envelope("2", "trace-create", "2026-11-22T10:00:01Z", {"id": "t", "input": ""}),
        envelope("3", "trace-create", "2026-11-22T10:00:02Z", {"id": "t", "input": None}),
    )
    assert merge_trace(None, trace_events, "p", VERSION).input == ""


def test_merge_needs_an_event_or_a_stored_row() -> None:
    with pytest.raises(ValueError, match="merge_trace"):
        merge_trace(None, [], "p", VERSION)
    assert merge_trace(stored_trace(), [], "p", LATER).name == "old"


def test_same_inputs_give_identical_rows(v2_batch: ValidatedBatch) -> None:
    groups = group_events(v2_batch.events)
    first = merge_observation(None, groups[("observation", GEN_ID)], "p", VERSION)  # type: ignore[arg-type]
    again = merge_observation(None, groups[("observation", GEN_ID)], "p", VERSION)  # type: ignore[arg-type]
    assert msgspec.json.encode(first) == msgspec.json.encode(again)


# --- observations ------------------------------------------------------------------------------


def test_py_v2_span_create_then_update(v2_batch: ValidatedBatch) -> None:
    span = merge_observation(None, group_events(v2_batch.events)[("observation", SPAN_ID)], "p", VERSION)  # type: ignore[arg-type]
    assert (span.type, span.trace_id, span.name) == ("SPAN", TRACE_ID, "retrieve")
    assert span.start_time == epoch("2026-11-22T09:50:26.110000+00:00")
    assert span.end_time == epoch("2026-11-22T09:50:27.700000+00:00")
    assert span.input == "plain text query"
    assert span.output is None  # the update's explicit null did not count
    assert span.metadata == {"k": "1"}
    assert span.level == "DEFAULT"
    assert span.provided_usage_details == {} and span.total_cost is None


def test_py_v2_generation_create_then_update(v2_batch: ValidatedBatch) -> None:
    gen = merge_observation(None, group_events(v2_batch.events)[("observation", GEN_ID)], "p", VERSION)  # type: ignore[arg-type]
    assert (gen.type, gen.parent_observation_id, gen.provided_model_name) == ("GENERATION", SPAN_ID, "gpt-4o-mini")
    assert json.loads(gen.model_parameters or "") == {"temperature": "0.2", "max_tokens": 256, "stop": ["\n"]}
    assert gen.input == '[{"role": "user", "content": "What is Spyglass?"}]'
    assert gen.output == '{"role": "assistant", "content": "An observability backend."}'
    assert gen.completion_start_time == epoch("2026-11-22T09:50:26.900000+00:00")
    assert gen.end_time == epoch("2026-11-22T09:50:27.500000+00:00")
    assert gen.provided_usage_details == {"input": 12, "output": 7, "total": 19}
    assert gen.usage_details == gen.provided_usage_details
    assert gen.provided_cost_details == {"total": 0.00042} == gen.cost_details
    assert gen.total_cost == 0.00042
    assert (gen.prompt_name, gen.prompt_version, gen.prompt_id) == ("qa", 3, None)
    assert gen.metadata == {"metadata": "legacy string metadata"}
    assert gen.internal_model_id is None and gen.usage_pricing_tier_id is None


def test_event_create_has_no_end_time(v2_batch: ValidatedBatch) -> None:
    row = merge_observation(None, group_events(v2_batch.events)[("observation", EVENT_ID)], "p", VERSION)  # type: ignore[arg-type]
    assert (row.type, row.end_time, row.start_time) == ("EVENT", None, epoch("2026-11-22T09:50:27.600000+00:00"))


def test_update_before_create_still_makes_a_row_and_the_create_fixes_it_later() -> None:
    update = ev(
        "u",
        "generation-update",
        "2026-11-22T10:00:05Z",
        {"id": "g", "traceId": "t", "endTime": "2026-11-22T10:00:05Z", "output": "done"},
    )
    early = merge_observation(None, [update], "p", VERSION)  # type: ignore[list-item]
    assert (early.type, early.trace_id, early.output) == ("GENERATION", "t", "done")
    assert early.start_time == epoch("2026-11-22T10:00:05+00:00")  # placeholder: the envelope time
    create = ev(
        "c",
        "generation-create",
        "2026-11-22T10:00:01Z",
        {"id": "g", "traceId": "t", "name": "llm", "startTime": "2026-11-22T10:00:01Z", "input": "q"},
    )
    fixed = merge_observation(early, [create], "p", LATER)  # type: ignore[list-item]
    assert fixed.start_time == epoch("2026-11-22T10:00:01+00:00")
    assert fixed.end_time == epoch("2026-11-22T10:00:05+00:00")
    assert (fixed.name, fixed.input, fixed.output) == ("llm", "q", "done")
    assert fixed.created_at == VERSION and fixed.event_ts == LATER
    # Both orders of arrival end in the same row as merging everything at once.
    together = merge_observation(None, [update, create], "p", LATER)  # type: ignore[list-item]
    assert msgspec.structs.replace(together, created_at=VERSION) == fixed


def test_a_real_start_time_is_never_moved_later() -> None:
    create = ev("c", "span-create", "2026-11-22T10:00:00Z", {"id": "s", "startTime": "2026-11-22T10:00:00Z"})
    row = merge_observation(None, [create], "p", VERSION)  # type: ignore[list-item]
    moved = ev("u", "span-update", "2026-11-22T10:00:09Z", {"id": "s", "startTime": "2026-11-22T10:00:03Z"})
    assert merge_observation(row, [moved], "p", LATER).start_time == row.start_time  # type: ignore[list-item]


def test_the_first_create_decides_the_type_and_a_stored_type_never_changes() -> None:
    update = ev("u", "span-update", "2026-11-22T10:00:00Z", {"id": "o"})
    create = ev("c", "agent-create", "2026-11-22T10:00:00Z", {"id": "o"})
    assert merge_observation(None, [update, create], "p", VERSION).type == "AGENT"  # type: ignore[list-item]
    stored = merge_observation(None, [update], "p", VERSION)  # type: ignore[list-item]
    assert merge_observation(stored, [create], "p", LATER).type == "SPAN"  # type: ignore[list-item]


def test_end_before_start_is_clamped_to_start() -> None:
    row = merge_observation(
        None,
        [  # type: ignore[list-item]
            ev(
                "c",
                "span-create",
                "2026-11-22T10:00:00Z",
                {"id": "s", "startTime": "2026-11-22T10:00:10Z", "endTime": "2026-11-22T10:00:04Z"},
            )
        ],
        "p",
        VERSION,
    )
    assert row.end_time == row.start_time == epoch("2026-11-22T10:00:10+00:00")


def test_observation_immutables_survive_updates() -> None:
    stored = ObservationRow(
        id="o",
        trace_id="t-1",
        project_id="proj",
        type="GENERATION",
        environment="prod",
        start_time=1_795_000_000.0,
        level="WARNING",
        created_at=5.0,
        prompt_id="prompt-row-1",
        prompt_name="qa",
        prompt_version=2,
    )
    update = ev(
        "u",
        "generation-update",
        "2026-11-22T10:00:00Z",
        {"id": "o", "traceId": "t-2", "environment": "dev", "promptName": "qa", "promptVersion": 2},
    )
    row = merge_observation(stored, [update], "other", LATER)  # type: ignore[list-item]
    assert (row.trace_id, row.project_id, row.environment, row.created_at) == ("t-1", "proj", "prod", 5.0)
    assert row.level == "WARNING"
    assert row.prompt_id == "prompt-row-1"  # same prompt: the resolved id is kept
    other_prompt = ev(
        "v", "generation-update", "2026-11-22T10:00:01Z", {"id": "o", "promptName": "qa", "promptVersion": 3}
    )
    changed = merge_observation(row, [other_prompt], "p", LATER)  # type: ignore[list-item]
    assert (changed.prompt_name, changed.prompt_version, changed.prompt_id) == ("qa", 3, None)


def test_prompt_comes_from_the_last_event_that_names_both() -> None:
    gen_events = events(
        envelope("1", "generation-create", "2026-11-22T10:00:00Z", {"id": "g", "promptName": "a", "promptVersion": 1}),
        envelope("2", "generation-update", "2026-11-22T10:00:01Z", {"id": "g", "promptName": "b", "promptVersion": 4}),
        envelope("3", "generation-update", "2026-11-22T10:00:02Z", {"id": "g", "name": "x"}),
    )
    row = merge_observation(None, gen_events, "p", VERSION)
    assert (row.prompt_name, row.prompt_version) == ("b", 4)


def test_usage_details_in_openai_shape_overlay_legacy_usage_and_cost_details_overlay_costs() -> None:
    gen = ev(
        "g",
        "generation-create",
        "2026-11-22T10:00:00Z",
        {
            "id": "g",
            "usage": {"input": 999, "output": 1, "inputCost": 0.5, "outputCost": 0.25},
            "usageDetails": {
                "prompt_tokens": 1200,
                "completion_tokens": 300,
                "total_tokens": 1500,
                "prompt_tokens_details": {"cached_tokens": 1000},
                "completion_tokens_details": {"reasoning_tokens": 120},
            },
            "costDetails": {"input": 0.1, "cache": 0.01},
        },
    )
    row = merge_observation(None, [gen], "p", VERSION)  # type: ignore[list-item]
    assert row.provided_usage_details == {
        "input": 200,
        "output": 180,
        "total": 1500,
        "input_cached_tokens": 1000,
        "output_reasoning_tokens": 120,
    }
    assert row.provided_cost_details == {"input": 0.1, "output": 0.25, "cache": 0.01}
    assert row.total_cost is None  # no total provided; the pricing step completes it


def test_legacy_openai_style_usage_and_total_inference() -> None:
    gen = ev(
        "g",
        "generation-create",
        "2026-11-22T10:00:00Z",
        {"id": "g", "usage": {"promptTokens": 30, "completionTokens": 12}},
    )
    assert merge_observation(None, [gen], "p", VERSION).provided_usage_details == {  # type: ignore[list-item]
        "input": 30,
        "output": 12,
        "total": 42,
    }


def test_a_later_event_without_usage_keeps_it_and_one_with_usage_replaces_it() -> None:
    gen_events = events(
        envelope("1", "generation-create", "2026-11-22T10:00:00Z", {"id": "g", "usage": {"input": 5, "output": 5}}),
        envelope("2", "generation-update", "2026-11-22T10:00:01Z", {"id": "g", "usage": {}, "usageDetails": {}}),
    )
    assert merge_observation(None, gen_events, "p", VERSION).usage_details == {"input": 5, "output": 5, "total": 10}
    replaced = ev("3", "generation-update", "2026-11-22T10:00:02Z", {"id": "g", "usageDetails": {"output": 9}})
    row = merge_observation(None, [*gen_events, replaced], "p", VERSION)
    assert row.provided_usage_details == {"output": 9}


def test_an_observation_without_trace_id_is_its_own_trace_until_one_is_named() -> None:
    legacy = ev("e", "observation-create", "2026-11-22T10:00:00Z", {"id": "o", "type": "SPAN", "name": "old sdk"})
    row = merge_observation(None, [legacy], "p", VERSION)  # type: ignore[list-item]
    assert row.trace_id == "o" and needs_wrapper_trace(row)
    wrapper = wrapper_trace_event(row)
    trace = merge_trace(None, [wrapper], "p", VERSION)
    assert (trace.id, trace.timestamp, trace.environment) == ("o", row.start_time, row.environment)
    named = ev("u", "span-update", "2026-11-22T10:00:01Z", {"id": "o", "traceId": "real-trace"})
    fixed = merge_observation(row, [named], "p", LATER)  # type: ignore[list-item]
    assert fixed.trace_id == "real-trace" and not needs_wrapper_trace(fixed)


def test_times_are_microsecond_exact_floats() -> None:
    span = ev("s", "span-create", "2026-11-22T10:00:00Z", {"id": "s", "startTime": "2026-11-22T10:00:00.123456Z"})
    row = merge_observation(None, [span], "p", VERSION)  # type: ignore[list-item]
    assert repr(row.start_time).endswith(".123456")
    assert datetime.fromtimestamp(row.start_time, UTC).microsecond == 123456
