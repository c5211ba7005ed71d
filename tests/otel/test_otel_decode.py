"""OTLP decoding: both encodings, tolerated variants, per-span rejection, malformed bodies."""

from __future__ import annotations

import json

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from spyglass.collector.otel import (
    OtlpContentTypeError,
    OtlpDecodeError,
    decode_json_export,
    decode_otlp,
    decode_protobuf,
    decode_protobuf_export,
    walk_protobuf,
)
from tests.otel.otlp_builders import OTHER_TRACE, T0, TRACE, make_request, make_span, otlp_json, span_id

RICH_ATTRS = {
    "s": "text",
    "empty": "",
    "unicode": "héllo ✓",
    "long": "x" * 20_000,
    "medium": "y" * 300,
    "i": 42,
    "neg": -7,
    "big": 2**62,
    "d": 2.5,
    "t": True,
    "f": False,
    "arr": ["a", 1, 2.0, True, ["nested"]],
    "kv": {"inner": "v", "n": 3},
    "raw": b"\x00\x01\xff",
}
DECODED_RICH = {
    "s": "text",
    "empty": "",
    "unicode": "héllo ✓",
    "long": "x" * 20_000,
    "medium": "y" * 300,
    "i": 42,
    "neg": -7,
    "big": 2**62,
    "d": 2.5,
    "t": True,
    "f": False,
    "arr": ["a", 1, 2.0, True, ["nested"]],
    "kv": {"inner": "v", "n": 3},
    "raw": "AAH/",
}


def rich_request():
    span = make_span(
        sid=7,
        parent=3,
        name="rich",
        attrs=RICH_ATTRS,
        kind=Span.SPAN_KIND_CLIENT,
        events=[("evt", T0 + 5, {"e": "v", "n": 1})],
        links=[(OTHER_TRACE, span_id(9), {"why": "retry"})],
        status=(Status.STATUS_CODE_ERROR, "boom"),
    )
    return make_request(
        [span],
        resource={"service.name": "svc", "langfuse.environment": "prod"},
        scope="my.scope",
        scope_version="1.2",
        scope_attrs={"public_key": "pk"},
    )


def test_protobuf_fast_path_decodes_every_field_and_value_kind():
    export = decode_protobuf_export(rich_request().SerializeToString())
    assert export.rejected_count == 0 and export.span_count == 1
    (group,) = export.groups
    assert group.resource_attributes == {"service.name": "svc", "langfuse.environment": "prod"}
    assert (group.scope_name, group.scope_version, group.scope_attributes) == ("my.scope", "1.2", {"public_key": "pk"})
    (span,) = group.spans
    assert span.trace_id == TRACE
    assert span.span_id == span_id(7)
    assert span.parent_span_id == span_id(3)
    assert span.name == "rich"
    assert span.kind == Span.SPAN_KIND_CLIENT
    assert (span.start_ns, span.end_ns) == (T0, T0 + 1_500_000_000)
    assert span.attributes == DECODED_RICH
    assert span.status_code == 2 and span.status_message == "boom"
    assert [(e.name, e.time_ns, e.attributes) for e in span.events] == [("evt", T0 + 5, {"e": "v", "n": 1})]
    assert [(lk.trace_id, lk.span_id, lk.attributes) for lk in span.links] == [
        (OTHER_TRACE, span_id(9), {"why": "retry"})
    ]


def test_fast_path_and_opentelemetry_proto_walk_agree():
    body = rich_request().SerializeToString()
    fast = decode_protobuf_export(body)
    slow = walk_protobuf(decode_protobuf(body))
    assert fast.groups == slow.groups


def test_json_matches_protobuf_with_ints_as_numbers_or_strings():
    request = rich_request()
    expected = decode_protobuf_export(request.SerializeToString()).groups
    assert decode_json_export(otlp_json(request, ints_as_numbers=True)).groups == expected
    assert decode_json_export(otlp_json(request, ints_as_numbers=False)).groups == expected


def test_json_tolerates_snake_case_names_enums_and_base64_ids():
    body = {
        "resource_spans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"string_value": "svc"}}]},
                "scope_spans": [
                    {
                        "scope": {"name": "s", "version": "1"},
                        "spans": [
                            {
                                "trace_id": "CvdlGRbNQ92ESOshHIAxnA==",  # base64 of TRACE
                                "span_id": "AAAAAAAAAAE=",
                                "parent_span_id": "",
                                "name": "n",
                                "kind": "SPAN_KIND_SERVER",
                                "start_time_unix_nano": T0,
                                "end_time_unix_nano": str(T0 + 10),
                                "attributes": [
                                    {"key": "i", "value": {"int_value": "9007199254740993"}},
                                    {"key": "d", "value": {"double_value": "NaN"}},
                                    {"key": "b", "value": {"bool_value": True}},
                                ],
                                "status": {"code": "STATUS_CODE_ERROR", "message": "bad"},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    export = decode_json_export(json.dumps(body).encode())
    (span,) = export.groups[0].spans
    assert span.trace_id == TRACE
    assert span.span_id == span_id(1)
    assert span.parent_span_id is None
    assert span.kind == 2
    assert span.end_ns == T0 + 10
    assert span.attributes["i"] == 9007199254740993  # exact, not rounded through a float
    assert span.attributes["d"] != span.attributes["d"]  # NaN
    assert span.attributes["b"] is True
    assert (span.status_code, span.status_message) == (2, "bad")


def test_json_accepts_pre_1_0_instrumentation_library_spans():
    body = {
        "resourceSpans": [
            {
                "instrumentationLibrarySpans": [
                    {
                        "instrumentationLibrary": {"name": "old-lib"},
                        "spans": [{"traceId": TRACE, "spanId": span_id(1), "name": "x", "startTimeUnixNano": str(T0)}],
                    }
                ]
            }
        ]
    }
    export = decode_json_export(json.dumps(body).encode())
    assert export.groups[0].scope_name == "old-lib"
    assert export.groups[0].spans[0].end_ns == T0  # missing end → start


def test_missing_start_takes_end():
    export = decode_protobuf_export(make_request([make_span(start=0, end=T0)]).SerializeToString())
    span = export.groups[0].spans[0]
    assert (span.start_ns, span.end_ns) == (T0, T0)


@pytest.mark.parametrize(
    ("span_kwargs", "reason"),
    [
        ({"trace_id": "00" * 16}, "invalid trace id"),
        ({"parent": "0011"}, "invalid parent span id"),
        ({"start": 0, "end": 0}, "missing start and end time"),
        ({"start": T0, "end": T0 - 1}, "end time before start time"),
        ({"start": 1_700_000_000_000, "end": 1_700_000_000_001}, "timestamp out of range"),  # ms sent as ns
    ],
)
def test_a_bad_span_is_rejected_alone(span_kwargs, reason):
    good = make_span(sid=1, name="good")
    bad = make_span(sid=2, name="bad", **span_kwargs)
    export = decode_protobuf_export(make_request([good, bad]).SerializeToString())
    assert [s.name for g in export.groups for s in g.spans] == ["good"]
    assert export.rejected_count == 1
    assert reason in export.error_message
    assert "rejected 1 of 2 spans" in export.error_message


def test_short_and_zero_span_ids_are_rejected():
    short = make_span(sid=1)
    short.span_id = b"\x01\x02"
    zero = make_span(sid=2)
    zero.span_id = bytes(8)
    export = decode_protobuf_export(make_request([short, zero, make_span(sid=3)]).SerializeToString())
    assert export.span_count == 1
    assert export.rejections.by_reason == {"invalid span id": 2}


def test_json_rejections_name_the_span():
    body = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {"traceId": "xyz", "spanId": span_id(1), "startTimeUnixNano": str(T0)},
                            {"traceId": TRACE, "spanId": span_id(2), "startTimeUnixNano": "soon"},
                            {"traceId": TRACE, "spanId": span_id(3), "attributes": "nope", "startTimeUnixNano": T0},
                            "not a span",
                            {"traceId": TRACE, "spanId": span_id(4), "startTimeUnixNano": str(T0)},
                        ]
                    }
                ]
            }
        ]
    }
    export = decode_json_export(json.dumps(body).encode())
    assert [s.span_id for g in export.groups for s in g.spans] == [span_id(4)]
    assert export.rejections.by_reason == {
        "invalid trace id": 1,
        "timestamp out of range": 1,
        "malformed span": 2,
    }
    assert "trace_id=xyz" in export.error_message


def test_invalid_utf8_in_one_attribute_costs_only_that_span():
    bad = make_span(sid=1, name="bad", attrs={"k": "é"})
    good = make_span(sid=2, name="good", attrs={"k": "ok"})
    body = make_request([bad, good]).SerializeToString().replace("é".encode(), b"\xc3\x28")
    export = decode_protobuf_export(body)
    assert [s.name for s in export.groups[0].spans] == ["good"]
    assert export.rejections.by_reason == {"malformed span": 1}


@pytest.mark.parametrize(
    "body",
    [b"\xff\xff\xff\xff", b"\x0a\x10\x0a", b"\x0a\x05\x12\x03\x12\x01"],
)
def test_malformed_protobuf_raises_decode_error(body):
    with pytest.raises(OtlpDecodeError, match="malformed OTLP protobuf"):
        decode_protobuf_export(body)
    with pytest.raises(OtlpDecodeError):
        decode_protobuf(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "malformed OTLP/JSON body"),
        (b"[1, 2]", "must be an object"),
        (b'{"resourceSpans": {}}', "resourceSpans must be an array"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": 5}]}]}', "spans must be an array"),
        (b'{"resourceSpans": [{"resource": {"attributes": [1]}}]}', "resource attributes"),
    ],
)
def test_malformed_json_raises_decode_error_naming_the_problem(body, message):
    with pytest.raises(OtlpDecodeError, match=message):
        decode_json_export(body)


def test_empty_exports_are_fine():
    assert decode_protobuf_export(b"").span_count == 0
    assert decode_json_export(b"{}").span_count == 0
    assert decode_json_export(b'{"resourceSpans": []}').error_message == ""


def test_content_type_picks_the_decoder():
    request = make_request([make_span()])
    assert decode_otlp(request.SerializeToString(), "application/x-protobuf").span_count == 1
    assert decode_otlp(otlp_json(request), "application/json; charset=utf-8").span_count == 1
    with pytest.raises(OtlpContentTypeError, match="unsupported content type"):
        decode_otlp(b"", "text/plain")
