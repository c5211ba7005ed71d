"""Spans written with Langfuse's conventions, from the real v5 SDK and by hand (JS style)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec
import pytest

from spyglass.collector.otel import merge_trace_patch, normalize_environment
from tests.otel.otlp_builders import (
    PROJECT,
    RECEIVED,
    T0,
    TRACE,
    by_name,
    make_request,
    make_span,
    map_request,
    only,
    span_id,
)

SDK_TYPES = ["span", "generation", "agent", "tool", "chain", "retriever", "evaluator", "embedding", "guardrail"]


def test_real_sdk_trace_maps_field_by_field(langfuse_capture):
    capture = langfuse_capture(environment="Staging", release="r1")
    lf = capture.client
    from langfuse import propagate_attributes

    with lf.start_as_current_observation(
        name="root", as_type="span", input={"q": "hi"}, metadata={"tenant": "acme", "n": 5, "d": {"a": [1, 2]}}
    ) as root:
        with propagate_attributes(
            user_id="u1", session_id="s1", tags=["b", "a"], trace_name="my-trace", metadata={"k": "v"}
        ):
            with lf.start_as_current_observation(
                name="llm",
                as_type="generation",
                model="gpt-4o",
                model_parameters={"temperature": 0.1, "stop": ["\n"]},
                input=[{"role": "user", "content": "hi"}],
                usage_details={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                cost_details={"input": 0.001, "output": 0.002},
                completion_start_time=datetime(2026, 9, 21, 14, 13, 21, 250_000, tzinfo=UTC),
            ) as generation:
                generation.update(output="hello")
            lf.create_event(name="ev", input="x")
        root.update(output="done")
    result = map_request(capture.request())

    assert result.rejected_count == 0
    rows = by_name(result)
    assert {name: row.type for name, row in rows.items()} == {"root": "SPAN", "llm": "GENERATION", "ev": "EVENT"}
    root_row, gen, event = rows["root"], rows["llm"], rows["ev"]
    trace_id = root_row.trace_id

    assert root_row.parent_observation_id is None
    assert gen.parent_observation_id == root_row.id
    assert event.parent_observation_id == root_row.id
    assert {row.project_id for row in rows.values()} == {PROJECT}
    assert {row.environment for row in rows.values()} == {"staging"}
    assert root_row.input == '{"q": "hi"}'
    assert root_row.output == "done"
    assert root_row.metadata["tenant"] == "acme"
    assert root_row.metadata["n"] == "5"
    assert root_row.metadata["d"] == '{"a":[1,2]}'
    assert "attributes" not in root_row.metadata  # nothing left over on an SDK span
    assert json.loads(root_row.metadata["scope"])["name"] == "langfuse-sdk"
    assert json.loads(root_row.metadata["resourceAttributes"])["service.name"] == "unknown_service:python"
    assert root_row.metadata["spanKind"] == "INTERNAL"
    assert root_row.provided_model_name is None and root_row.usage_details == {}

    assert gen.provided_model_name == "gpt-4o"
    assert json.loads(gen.model_parameters) == {"temperature": 0.1, "stop": '["\\n"]'}
    assert gen.provided_usage_details == {"input": 10, "output": 5, "total": 15}
    assert gen.usage_details == {"input": 10, "output": 5, "total": 15}
    assert gen.provided_cost_details == {"input": 0.001, "output": 0.002}
    assert gen.cost_details == {"input": 0.001, "output": 0.002, "total": pytest.approx(0.003)}
    assert gen.total_cost == pytest.approx(0.003)
    assert gen.completion_start_time == 1_790_000_001.25
    assert json.loads(gen.input) == [{"role": "user", "content": "hi"}]
    assert gen.output == "hello"
    assert event.input == "x"
    assert event.end_time == event.start_time

    patch = result.traces[trace_id]
    assert (patch.name, patch.user_id, patch.session_id) == ("my-trace", "u1", "s1")
    assert patch.tags == {"a", "b"}
    assert patch.metadata == {"k": "v"}
    assert (patch.release, patch.environment) == ("r1", "staging")
    assert patch.from_root and patch.timestamp == root_row.start_time
    trace = merge_trace_patch(None, patch)
    assert trace.id == trace_id and trace.project_id == PROJECT
    assert trace.name == "my-trace"
    assert trace.tags == ["a", "b"]
    assert (trace.input, trace.output) == ('{"q": "hi"}', "done")  # the root span's I/O
    assert (trace.created_at, trace.updated_at, trace.event_ts) == (RECEIVED, RECEIVED, RECEIVED)


@pytest.mark.parametrize("as_type", SDK_TYPES)
def test_every_sdk_observation_type(langfuse_capture, as_type):
    capture = langfuse_capture()
    with capture.client.start_as_current_observation(name=f"obs-{as_type}", as_type=as_type):
        pass
    assert only(map_request(capture.request())).type == as_type.upper()


def test_sdk_prompt_link_on_generation_but_not_on_span(langfuse_capture):
    from langfuse.api import Prompt_Text
    from langfuse.model import TextPromptClient

    prompt = TextPromptClient(
        Prompt_Text(name="support/answer", version=3, prompt="Hi {{x}}", config={}, labels=[], tags=[])
    )
    capture = langfuse_capture()
    with capture.client.start_as_current_observation(name="g", as_type="generation", prompt=prompt):
        pass
    row = only(map_request(capture.request()))
    assert (row.prompt_name, row.prompt_version) == ("support/answer", 3)

    span = make_span(
        attrs={
            "langfuse.observation.type": "span",
            "langfuse.observation.prompt.name": "support/answer",
            "langfuse.observation.prompt.version": 3,
        }
    )
    row = only(map_request(make_request([span])))
    assert (row.prompt_name, row.prompt_version) == (None, None)


def test_prompt_version_must_fit_uint16():
    span = make_span(
        attrs={
            "langfuse.observation.type": "generation",
            "langfuse.observation.prompt.name": "p",
            "langfuse.observation.prompt.version": 70_000,
        }
    )
    assert (only(map_request(make_request([span]))).prompt_version, "p") == (None, "p")


def test_sdk_level_and_status_message(langfuse_capture):
    capture = langfuse_capture()
    with capture.client.start_as_current_observation(
        name="warned", as_type="span", level="WARNING", status_message="slow"
    ):
        pass

    from langfuse import observe

    @observe(name="boom")
    def explode() -> None:
        raise RuntimeError("kaput")

    with pytest.raises(RuntimeError):
        explode(langfuse_public_key=capture.public_key)
    rows = by_name(map_request(capture.request()))
    assert (rows["warned"].level, rows["warned"].status_message) == ("WARNING", "slow")
    assert rows["boom"].level == "ERROR"
    assert "kaput" in (rows["boom"].status_message or "")


@pytest.mark.parametrize(
    ("attrs", "status", "level", "message"),
    [
        ({}, (2, "failed"), "ERROR", "failed"),
        ({"langfuse.observation.level": "warn"}, (0, ""), "WARNING", None),
        ({"langfuse.observation.level": "Fatal"}, (0, ""), "ERROR", None),
        ({"langfuse.observation.level": "trace"}, (2, "x"), "DEBUG", "x"),
        ({"langfuse.observation.level": "nonsense"}, (2, ""), "ERROR", None),
        ({"langfuse.observation.status_message": "mine"}, (2, "otel"), "ERROR", "mine"),
        ({}, (1, ""), "DEFAULT", None),
    ],
)
def test_level_aliases_and_error_status(attrs, status, level, message):
    row = only(map_request(make_request([make_span(attrs=attrs, status=status)])))
    assert (row.level, row.status_message) == (level, message)


def test_metadata_values_py_encoded_and_js_raw_give_the_same_map():
    py_style = {
        "langfuse.observation.metadata.tenant": '"acme"',
        "langfuse.observation.metadata.count": "5",
        "langfuse.observation.metadata.flag": "true",
        "langfuse.observation.metadata.nested": '{"a":[1,2]}',
        "langfuse.observation.metadata.quoted_number": '"5"',
    }
    js_style = {
        "langfuse.observation.metadata.tenant": "acme",
        "langfuse.observation.metadata.count": "5",
        "langfuse.observation.metadata.flag": True,
        "langfuse.observation.metadata.nested": '{"a":[1,2]}',
        "langfuse.observation.metadata.quoted_number": "5",
    }
    expected = {"tenant": "acme", "count": "5", "flag": "true", "nested": '{"a":[1,2]}', "quoted_number": "5"}
    for attrs in (py_style, js_style):
        row = only(map_request(make_request([make_span(attrs=attrs)])))
        assert {k: row.metadata[k] for k in expected} == expected


def test_whole_metadata_object_and_reserved_keys():
    attrs = {
        "langfuse.observation.metadata": '{"a": 1, "b": "x", "scope": "mine", "c": {"d": null}}',
        "langfuse.observation.metadata.b": "override",
        "unknown.attr": "kept",
    }
    row = only(map_request(make_request([make_span(attrs=attrs)], scope="hand-made")))
    assert row.metadata["a"] == "1"
    assert row.metadata["b"] == "override"  # a key of its own beats the whole object
    assert row.metadata["c"] == '{"d":null}'
    assert json.loads(row.metadata["scope"])["name"] == "hand-made"  # reserved keys win
    assert json.loads(row.metadata["attributes"]) == {"unknown.attr": "kept"}


def test_io_strings_are_stored_as_sent():
    attrs = {"langfuse.observation.input": "hello", "langfuse.observation.output": '"hello"'}
    row = only(map_request(make_request([make_span(attrs=attrs)])))
    assert (row.input, row.output) == ("hello", '"hello"')
    attrs = {"langfuse.observation.input": 123, "langfuse.observation.output": ["a", "b"]}
    row = only(map_request(make_request([make_span(attrs=attrs)])))
    assert (row.input, row.output) == ("123", '["a","b"]')


def test_times_keep_microseconds_exactly():
    row = only(map_request(make_request([make_span(start=T0, end=T0 + 999)])))
    assert row.start_time == 1_790_000_000.123456
    assert row.end_time == 1_790_000_000.123457
    encoded = msgspec.json.encode(row)
    assert b'"start_time":1790000000.123456' in encoded
    assert b'"end_time":1790000000.123457' in encoded
    assert row.created_at == row.updated_at == row.event_ts == RECEIVED


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Production", "production"),
        ("langfuse-prod", "prod"),
        ("Langfuse_langfuse-eu", "eu"),
        ("langfuseprod", "prod"),
        ("langfuse", "default"),
        ("bad env!", "default"),
        ("x" * 50, "x" * 40),
        ("dev_1-a", "dev_1-a"),
        ("", "default"),
    ],
)
def test_environment_normalization(raw, expected):
    assert normalize_environment(raw) == expected


def test_environment_span_then_resource_per_key():
    spans = [
        make_span(sid=1, name="own", attrs={"langfuse.environment": "Span-Env"}),
        make_span(sid=2, name="resource", attrs={"deployment.environment.name": "dep"}),
    ]
    rows = by_name(map_request(make_request(spans, resource={"langfuse.environment": "res"})))
    assert rows["own"].environment == "span-env"
    # langfuse.environment (span, then resource) outranks deployment.environment.name.
    assert rows["resource"].environment == "res"
    row = only(map_request(make_request([make_span(attrs={"deployment.environment": "qa"})])))
    assert row.environment == "qa"
    assert only(map_request(make_request([make_span()]))).environment == "default"


def test_version_and_release_fall_back_to_the_resource():
    spans = [
        make_span(sid=1, name="own", attrs={"langfuse.version": "v-span", "langfuse.release": "rel-span"}),
        make_span(sid=2, name="fallback", trace_id="11" * 16),
    ]
    resource = {"service.version": "9.9", "langfuse.release": "rel-res"}
    result = map_request(make_request(spans, resource=resource))
    rows = by_name(result)
    assert (rows["own"].version, rows["fallback"].version) == ("v-span", "9.9")
    assert result.traces[TRACE].release == "rel-span"
    assert result.traces["11" * 16].release == "rel-res"


def test_as_root_span_keeps_its_parent_and_sets_the_trace(langfuse_capture):
    capture = langfuse_capture()
    joined = "abcdef0123456789abcdef0123456789"
    parent = "0123456789abcdef"
    observation = capture.client.start_observation(
        name="joined", trace_context={"trace_id": joined, "parent_span_id": parent}
    )
    observation.end()
    result = map_request(capture.request())
    row = only(result)
    assert row.trace_id == joined
    assert row.parent_observation_id == parent  # nested under the other service's observation
    assert "remoteParentSpanId" not in row.metadata
    assert result.traces[joined].from_root
    assert merge_trace_patch(None, result.traces[joined]).name == "joined"


def test_as_root_span_by_trace_id_alone_keeps_the_sdks_parent(langfuse_capture):
    capture = langfuse_capture()
    joined = "fedcba9876543210fedcba9876543210"
    capture.client.start_observation(name="joined", trace_context={"trace_id": joined}).end()
    result = map_request(capture.request())
    row = only(result)
    # The SDK invents a parent it never exports, as upstream stores it; readers show it as a root.
    assert row.parent_observation_id is not None and len(row.parent_observation_id) == 16
    assert result.traces[joined].from_root


def test_parent_that_never_arrives_is_kept():
    row = only(map_request(make_request([make_span(sid=2, parent=99)])))
    assert row.parent_observation_id == span_id(99)


def test_trace_attributes_merge_across_spans_of_a_batch():
    spans = [
        make_span(sid=2, parent=1, name="child-a", start=T0 + 2_000, attrs={"langfuse.trace.tags": ["x"]}),
        make_span(
            sid=3,
            parent=1,
            name="child-b",
            start=T0 + 1_000,
            attrs={
                "langfuse.trace.tags": "y, z",
                "user.id": "u-late",
                "langfuse.trace.metadata.plan": '"pro"',
                "langfuse.trace.public": True,
            },
        ),
        make_span(sid=4, trace_id="22" * 16, name="other", attrs={"langfuse.session.id": "s-2"}),
    ]
    result = map_request(make_request(spans))
    assert set(result.traces) == {TRACE, "22" * 16}
    patch = result.traces[TRACE]
    assert patch.tags == {"x", "y", "z"}
    assert patch.user_id == "u-late"
    assert patch.metadata == {"plan": "pro"}
    assert patch.public is True
    assert not patch.from_root
    assert patch.timestamp == 1_790_000_000.123457  # earliest start seen, no root yet
    assert patch.name is None
    trace = merge_trace_patch(None, patch)
    assert (trace.name, trace.input) == ("", None)  # the root may still come
    assert result.traces["22" * 16].session_id == "s-2"


def test_legacy_and_metadata_sourced_trace_fields():
    attrs = {
        "langfuse.observation.metadata.langfuse_user_id": '"meta-user"',
        "langfuse.trace.metadata.langfuse_session_id": '"meta-session"',
        "langfuse.trace.metadata.langfuse_tags": '["m1","m2"]',
        "langfuse.public": "true",
    }
    patch = map_request(make_request([make_span(attrs=attrs)])).traces[TRACE]
    assert (patch.user_id, patch.session_id) == ("meta-user", "meta-session")
    assert patch.tags == {"m1", "m2"}
    assert patch.public is True


def test_trace_io_explicit_beats_root_io():
    root = make_span(
        sid=1,
        name="root",
        attrs={
            "langfuse.observation.input": "root-in",
            "langfuse.observation.output": "root-out",
            "langfuse.trace.input": '{"explicit": true}',
        },
    )
    patch = map_request(make_request([root])).traces[TRACE]
    trace = merge_trace_patch(None, patch)
    assert (trace.input, trace.output) == ('{"explicit": true}', "root-out")


def test_is_app_root_counts_as_root_but_keeps_its_parent():
    span = make_span(sid=5, parent=4, name="app-root", attrs={"langfuse.internal.is_app_root": True})
    result = map_request(make_request([span]))
    assert only(result).parent_observation_id == span_id(4)
    assert result.traces[TRACE].from_root
    assert result.traces[TRACE].root_name == "app-root"


def test_completion_start_time_single_or_double_encoded():
    for encoded in ('"2026-09-21T14:13:21.5Z"', json.dumps('"2026-09-21T14:13:21.5Z"'), "2026-09-21T14:13:21.5"):
        span = make_span(
            attrs={"langfuse.observation.type": "generation", "langfuse.observation.completion_start_time": encoded}
        )
        assert only(map_request(make_request([span]))).completion_start_time == 1_790_000_001.5
    span = make_span(attrs={"langfuse.observation.completion_start_time": "not a time"})
    assert only(map_request(make_request([span]))).completion_start_time is None


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (
            {
                "prompt_tokens": 100,
                "completion_tokens": 40,
                "total_tokens": 140,
                "prompt_tokens_details": {"cached_tokens": 30, "audio_tokens": None},
                "completion_tokens_details": {"reasoning_tokens": 10},
            },
            {
                "input": 70,
                "output": 30,
                "total": 140,
                "input_cached_tokens": 30,
                "output_reasoning_tokens": 10,
            },
        ),
        (
            {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12, "input_tokens_details": {"cached_tokens": 9}},
            {"input": 0, "output": 7, "total": 12, "input_cached_tokens": 9},
        ),
        (
            {"input": 3, "output": "4", "cache_read_input_tokens": 2, "bad": -1, "text": "x", "f": 1.5},
            {"input": 3, "output": 4, "cache_read_input_tokens": 2},
        ),
        ({"input_tokens": 5, "output_tokens": 2}, {"input_tokens": 5, "output_tokens": 2}),
    ],
)
def test_usage_details_shapes(usage, expected):
    span = make_span(
        attrs={"langfuse.observation.type": "generation", "langfuse.observation.usage_details": json.dumps(usage)}
    )
    row = only(map_request(make_request([span])))
    assert row.provided_usage_details == expected
    total = expected.get("total", sum(expected.values()))
    assert row.usage_details == {**expected, "total": total}


def test_cost_details_total_given_or_summed():
    span = make_span(attrs={"langfuse.observation.cost_details": '{"input": 1.5, "output": 0.5, "total": 3.0}'})
    row = only(map_request(make_request([span])))
    assert (row.cost_details, row.total_cost) == ({"input": 1.5, "output": 0.5, "total": 3.0}, 3.0)
    span = make_span(attrs={"langfuse.observation.cost_details": '{"input": 1.5, "neg": -1, "x": "a"}'})
    row = only(map_request(make_request([span])))
    assert row.provided_cost_details == {"input": 1.5}
    assert (row.cost_details, row.total_cost) == ({"input": 1.5, "total": 1.5}, 1.5)
    assert only(map_request(make_request([make_span()]))).total_cost is None


def test_old_python_sdk_generation_typed_as_span():
    attrs = {"langfuse.observation.type": "span", "langfuse.observation.model.name": "gpt-4"}
    resource = {"telemetry.sdk.language": "python"}
    old = make_request([make_span(attrs=attrs)], resource=resource, scope_version="3.2.1")
    new = make_request([make_span(attrs=attrs)], resource=resource, scope_version="3.4.0")
    assert only(map_request(old)).type == "GENERATION"
    assert only(map_request(new)).type == "SPAN"


def test_experiment_attributes_are_exposed_and_kept():
    attrs = {
        "langfuse.observation.type": "span",
        "langfuse.experiment.id": "0123456789abcdef",
        "langfuse.experiment.name": "run-1",
        "langfuse.experiment.dataset.id": "ds-1",
        "langfuse.experiment.item.id": "item-1",
        "langfuse.experiment.item.version": "2026-09-01T00:00:00Z",
        "langfuse.experiment.item.expected_output": '{"answer": 42}',
        "langfuse.experiment.item.root_observation_id": span_id(1),
        "langfuse.environment": "sdk-experiment",
    }
    result = map_request(make_request([make_span(attrs=attrs)]))
    (item,) = result.experiments
    assert (item.trace_id, item.observation_id) == (TRACE, span_id(1))
    assert (item.experiment_id, item.experiment_name, item.dataset_id) == ("0123456789abcdef", "run-1", "ds-1")
    assert (item.item_id, item.item_root_observation_id) == ("item-1", span_id(1))
    assert item.item_version == 1_788_220_800.0
    assert item.item_expected_output == '{"answer": 42}'
    assert item.environment == "sdk-experiment"
    assert item.attributes["langfuse.experiment.name"] == "run-1"
    kept = json.loads(result.observations[0].metadata["attributes"])
    assert kept["langfuse.experiment.dataset.id"] == "ds-1"
    assert map_request(make_request([make_span()])).experiments == []


def test_agent_wrapper_spans_do_not_double_count_usage():
    attrs = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.cost": 0.5,
    }
    row = only(map_request(make_request([make_span(attrs=attrs)], scope="any")))
    assert row.type == "AGENT"
    assert (row.provided_model_name, row.usage_details, row.cost_details) == (None, {}, {})


def test_replaying_a_payload_gives_identical_rows(langfuse_capture):
    capture = langfuse_capture()
    with capture.client.start_as_current_observation(name="r", as_type="generation", model="m"):
        pass
    request = capture.request()
    first, second = map_request(request), map_request(request)
    assert msgspec.json.encode(first.observations) == msgspec.json.encode(second.observations)
    assert first.traces == second.traces


def test_metadata_key_precedence_does_not_depend_on_attribute_order():
    keys = [
        ("ai.telemetry.metadata.k", "vercel"),
        ("langfuse.metadata.k", "legacy"),
        ("langfuse.observation.metadata.k", "observation"),
        ("langfuse.trace.metadata.t", "trace"),
        ("ai.telemetry.metadata.t", "vercel-t"),
        ("langfuse.metadata.only", "legacy-only"),
    ]
    for ordering in (keys, list(reversed(keys))):
        result = map_request(make_request([make_span(attrs=dict(ordering))]))
        row = only(result)
        assert (row.metadata["k"], row.metadata["t"], row.metadata["only"]) == (
            "observation",
            "vercel-t",
            "legacy-only",
        )
        assert result.traces[TRACE].metadata == {"k": "legacy", "t": "trace", "only": "legacy-only"}


def test_derived_usage_and_cost_maps_are_not_the_provided_ones():
    attrs = {
        "langfuse.observation.usage_details": '{"input": 1, "total": 1}',
        "langfuse.observation.cost_details": '{"total": 2.0}',
    }
    row = only(map_request(make_request([make_span(attrs=attrs)])))
    assert row.usage_details == row.provided_usage_details
    assert row.usage_details is not row.provided_usage_details
    assert row.cost_details is not row.provided_cost_details


def test_a_span_mapping_fails_on_is_logged_and_counted(monkeypatch, caplog):
    from spyglass.collector.otel import mapper as mapper_module

    real = mapper_module._map_span

    def flaky(span, *args):
        if span.name == "bad":
            raise ValueError("a mapping bug")
        return real(span, *args)

    monkeypatch.setattr(mapper_module, "_map_span", flaky)
    with caplog.at_level("ERROR", logger="spyglass.otel.mapper"):
        result = map_request(make_request([make_span(sid=1, name="bad"), make_span(sid=2, name="good")]))
    assert [r.name for r in result.observations] == ["good"]
    assert result.unmappable_count == 1 and result.rejected_count == 1
    (record,) = caplog.records
    assert "could not be mapped" in record.getMessage() and "a mapping bug" in caplog.text
