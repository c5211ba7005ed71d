"""Property tests: the decoders only ever raise OtlpDecodeError, whatever the bytes, and
every path to the neutral walk (wire view, opentelemetry-proto walk, OTLP/JSON) agrees."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spyglass.collector.otel import (
    OtlpDecodeError,
    decode_json_export,
    decode_protobuf,
    decode_protobuf_export,
    map_export,
    mapper,
    walk_protobuf,
)
from spyglass.collector.otel import keys as K
from tests.otel.otlp_builders import make_request, make_span, otlp_json

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.text(max_size=300),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.booleans(),
    st.binary(max_size=20),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=10), inner, max_size=4),
    ),
    max_leaves=10,
)
attribute_maps = st.dictionaries(st.text(max_size=40), values, max_size=12)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=25,
)


def _sample_body() -> bytes:
    spans = [
        make_span(sid=1, attrs={"langfuse.observation.type": "generation", "n": 5, "l": ["a", 1]}),
        make_span(sid=2, parent=1, attrs={"x": "y" * 200}, events=[("e", 1, {"k": 2.5})]),
    ]
    return make_request(spans).SerializeToString()


SAMPLE = _sample_body()


def _decode_and_map_or_decode_error(decode, body: bytes) -> None:
    try:
        export = decode(body)
    except OtlpDecodeError:
        return
    result = map_export(export, project_id="p", received_at=1.0)
    # Every span the decoder accepted maps; the rejections are exactly the decoder's.
    assert result.unmappable_count == 0
    assert result.rejected_count == export.rejected_count
    assert len(result.observations) == export.span_count


@FUZZ
@given(st.binary(max_size=600))
def test_protobuf_decoders_on_arbitrary_bytes(body):
    _decode_and_map_or_decode_error(decode_protobuf_export, body)
    try:
        decode_protobuf(body)
    except OtlpDecodeError:
        pass


@FUZZ
@given(st.integers(min_value=0, max_value=len(SAMPLE)), st.binary(max_size=8))
def test_protobuf_decoders_on_truncated_or_corrupted_bodies(cut, noise):
    _decode_and_map_or_decode_error(decode_protobuf_export, SAMPLE[:cut])
    _decode_and_map_or_decode_error(decode_protobuf_export, SAMPLE[:cut] + noise + SAMPLE[cut:])


@FUZZ
@given(st.binary(max_size=300))
def test_json_decoder_on_arbitrary_bytes(body):
    _decode_and_map_or_decode_error(decode_json_export, body)


@FUZZ
@given(json_values)
def test_json_decoder_on_arbitrary_json(document):
    _decode_and_map_or_decode_error(decode_json_export, json.dumps(document).encode())


otlp_like = st.fixed_dictionaries(
    {
        "resourceSpans": st.lists(
            st.fixed_dictionaries(
                {
                    "resource": st.one_of(json_values, st.just({"attributes": []})),
                    "scopeSpans": st.lists(
                        st.fixed_dictionaries(
                            {
                                "scope": json_values,
                                "spans": st.lists(
                                    st.dictionaries(
                                        st.sampled_from(
                                            [
                                                "traceId",
                                                "spanId",
                                                "parentSpanId",
                                                "startTimeUnixNano",
                                                "endTimeUnixNano",
                                                "name",
                                                "kind",
                                                "attributes",
                                                "events",
                                                "links",
                                                "status",
                                            ]
                                        ),
                                        json_values,
                                    ),
                                    max_size=3,
                                ),
                            }
                        ),
                        max_size=2,
                    ),
                }
            ),
            max_size=2,
        )
    }
)


@FUZZ
@given(otlp_like)
def test_json_decoder_on_otlp_shaped_garbage(document):
    _decode_and_map_or_decode_error(decode_json_export, json.dumps(document).encode())


@FUZZ
@given(attribute_maps, attribute_maps)
def test_all_decoding_paths_agree_on_attribute_values(span_attrs, resource_attrs):
    request = make_request(
        [make_span(attrs=span_attrs, events=[("e", 5, span_attrs)])],
        resource=resource_attrs,
        scope_attrs=span_attrs,
    )
    body = request.SerializeToString()
    fast = decode_protobuf_export(body)
    assert fast.rejected_count == 0
    assert fast.groups == walk_protobuf(decode_protobuf(body)).groups
    assert decode_json_export(otlp_json(request)).groups == fast.groups
    assert decode_json_export(otlp_json(request, ints_as_numbers=False)).groups == fast.groups
    # Whatever the attributes, mapping never raises and keeps the span.
    result = map_export(fast, project_id="p", received_at=1.0)
    assert result.rejected_count == 0 and result.unmappable_count == 0 and len(result.observations) == 1


_EXTRA_KEYS = ["langfuse.observation.metadata.a", "langfuse.trace.metadata.b", "ai.telemetry.metadata.userId"]
langfuse_keys = st.sampled_from([*sorted(K.LANGFUSE_SDK_MAPPED), *_EXTRA_KEYS])
langfuse_values = st.one_of(
    st.sampled_from(
        [
            "generation",
            "span",
            "tool",
            "ERROR",
            "warn",
            '{"input": 3, "output": 4}',
            '{"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}',
            '{"total": 0.5}',
            '"2026-09-21T14:13:21Z"',
            '{"temperature": 1}',
            "prod",
            "langfuse-x",
            "true",
            '["a","b"]',
            "",
        ]
    ),
    values,
)


@FUZZ
@given(
    st.dictionaries(langfuse_keys, langfuse_values, max_size=15),
    st.booleans(),
    st.sampled_from(["langfuse-sdk", "ai", "x"]),
)
def test_langfuse_only_shortcut_changes_nothing(attrs, with_event, scope):
    events = [("gen_ai.user.message", 5, {"content": "hi"})] if with_event else []
    body = make_request([make_span(attrs=attrs, events=events)], scope=scope).SerializeToString()
    fast = map_export(decode_protobuf_export(body), project_id="p", received_at=1.0)
    original = mapper._LANGFUSE_ONLY_SHORTCUT
    mapper._LANGFUSE_ONLY_SHORTCUT = False
    try:
        slow = map_export(decode_protobuf_export(body), project_id="p", received_at=1.0)
    finally:
        mapper._LANGFUSE_ONLY_SHORTCUT = original
    assert fast.observations == slow.observations
    assert fast.traces == slow.traces
    assert fast.rejected_count == slow.rejected_count == 0
