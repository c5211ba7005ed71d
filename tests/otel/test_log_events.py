"""OTLP log records: decoding (protobuf and JSON alike), EVENT rows, and GenAI input/output."""

from __future__ import annotations

import base64
import json

import msgspec
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord as PbLogRecord
from opentelemetry.proto.logs.v1.logs_pb2 import ResourceLogs, ScopeLogs

from spyglass.collector.otel import OtlpDecodeError
from spyglass.collector.otel.log_events import compose_io, event_row
from spyglass.collector.otel.logs import LogRecord, decode_logs

TRACE = bytes(range(1, 17))
SPAN = bytes(range(1, 9))
T0 = 1_765_000_000_000_000_000


def _kv(key: str, text: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=text))


def _body(**fields: str) -> AnyValue:
    value = AnyValue()
    for key, text in fields.items():
        value.kvlist_value.values.append(_kv(key, text))
    return value


def _request(*records: PbLogRecord) -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource={"attributes": [_kv("service.name", "checkout")]},
                scope_logs=[ScopeLogs(scope={"name": "app"}, log_records=list(records))],
            )
        ]
    )


def _otlp_json(request: ExportLogsServiceRequest) -> bytes:
    """OTLP/JSON as exporters write it: ids in hex (proto3 JSON would say base64)."""
    doc = json_format.MessageToDict(request)
    for resource in doc["resourceLogs"]:
        for scope in resource["scopeLogs"]:
            for record in scope["logRecords"]:
                for key in ("traceId", "spanId"):
                    if key in record:
                        record[key] = base64.b64decode(record[key]).hex()
    return json.dumps(doc).encode()


RECORDS = (
    PbLogRecord(
        time_unix_nano=T0,
        trace_id=TRACE,
        span_id=SPAN,
        event_name="gen_ai.user.message",
        body=_body(content="hi"),
        severity_number=9,
    ),
    # Named the way instrumentations did before LogRecord had `event_name`; only observed time.
    PbLogRecord(
        observed_time_unix_nano=T0 + 1000,
        trace_id=TRACE,
        span_id=SPAN,
        attributes=[_kv("event.name", "gen_ai.choice")],
        severity_number=17,
        severity_text="ERROR",
    ),
    PbLogRecord(time_unix_nano=T0, body=AnyValue(string_value="no trace")),  # kept out, not rejected
    PbLogRecord(time_unix_nano=T0, trace_id=TRACE, span_id=b"\x01\x02"),  # invalid span id
    PbLogRecord(time_unix_nano=T0, trace_id=TRACE, body=AnyValue(string_value="trace-level")),
)


@pytest.mark.parametrize("fmt", ["pb", "json"])
def test_decoding_keeps_trace_records_rejects_bad_ids_and_skips_the_rest(fmt: str) -> None:
    request = _request(*RECORDS)
    body = request.SerializeToString() if fmt == "pb" else _otlp_json(request)
    decoded = decode_logs(body, fmt)
    assert (decoded.total, decoded.unattached, decoded.rejections.count) == (5, 1, 1)
    assert decoded.rejections.message(5, "log records").startswith(
        f"rejected 1 of 5 log records (invalid span id: 1); first: invalid span id (trace_id={TRACE.hex()}"
    )
    first, second, third = decoded.records
    assert (first.trace_id, first.span_id, first.name, first.time_ns) == (
        TRACE.hex(),
        SPAN.hex(),
        "gen_ai.user.message",
        T0,
    )
    assert first.body == {"content": "hi"} and first.service_name == "checkout" and first.scope_name == "app"
    assert (second.name, second.time_ns, second.severity_number) == ("gen_ai.choice", T0 + 1000, 17)
    assert (third.span_id, third.body) == ("", "trace-level")


def test_protobuf_and_json_decode_alike() -> None:
    request = _request(*RECORDS)
    from_pb = decode_logs(request.SerializeToString(), "pb").records
    from_json = decode_logs(_otlp_json(request), "json").records
    assert msgspec.to_builtins(from_pb) == msgspec.to_builtins(from_json)


@pytest.mark.parametrize(
    ("body", "fmt", "message"),
    [
        (b"\x0a\xff\xff\xff\xff\x0f junk", "pb", "malformed OTLP protobuf body: "),
        (b"{nope", "json", "malformed OTLP/JSON body: "),
        (b'{"resourceLogs": {}}', "json", "OTLP/JSON: resourceLogs must be an array"),
    ],
)
def test_a_malformed_body_is_one_clear_error(body: bytes, fmt: str, message: str) -> None:
    with pytest.raises(OtlpDecodeError) as raised:
        decode_logs(body, fmt)
    assert str(raised.value).startswith(message)
    assert str(raised.value).count("OTLP") == 1


def _record(name: str, body: object, *, span: str = SPAN.hex(), severity: int = 9) -> LogRecord:
    return LogRecord(TRACE.hex(), span, T0, name, severity, "", body, {"gen_ai.system": "openai"}, "svc", "scope")


def test_a_record_becomes_an_event_under_its_span() -> None:
    row = event_row(_record("gen_ai.user.message", {"content": "hi"}), "id-1", "p1", 1_765_000_001.0)
    assert (row.type, row.parent_observation_id, row.trace_id, row.name) == (
        "EVENT",
        SPAN.hex(),
        TRACE.hex(),
        "gen_ai.user.message",
    )
    assert json.loads(row.input or "") == {"content": "hi"} and row.output is None
    assert row.start_time == T0 / 1e9 and row.level == "DEFAULT"
    assert row.metadata == {"gen_ai.system": "openai", "service.name": "svc", "log.scope": "scope"}
    choice = event_row(_record("gen_ai.choice", {"index": 0}, severity=17), "id-2", "p1", 1.0)
    assert choice.input is None and json.loads(choice.output or "") == {"index": 0} and choice.level == "ERROR"
    orphan = event_row(_record("", "plain text", span=""), "id-3", "p1", 1.0)
    assert orphan.parent_observation_id is None and orphan.name == "log" and orphan.input == "plain text"


def _events(*records: tuple[str, object]) -> list:  # type: ignore[type-arg]
    # Ids sort in the order the exporter sent the records (see log_events.py).
    return [event_row(_record(name, body), f"0001-aa-{i:05d}", "p1", 1.0) for i, (name, body) in enumerate(records)]


def test_openai_v2_message_events_compose_the_input_and_output() -> None:
    events = _events(
        ("gen_ai.choice", {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Paris."}}),
        ("gen_ai.system.message", {"content": "Be brief."}),
        ("gen_ai.user.message", {"content": "Capital of France?"}),
        ("gen_ai.assistant.message", {"tool_calls": [{"id": "c1", "type": "function"}]}),
        ("gen_ai.tool.message", {"content": "42", "id": "c1"}),
    )
    # Delivered in any order: the ids say which came first.
    input_text, output_text = compose_io(reversed(events))
    assert json.loads(input_text or "") == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function"}]},
        {"role": "tool", "content": "42", "id": "c1"},
    ]
    assert json.loads(output_text or "") == {"role": "assistant", "content": "Paris."}


def test_several_choices_are_a_list_in_index_order() -> None:
    events = _events(
        ("gen_ai.choice", {"index": 1, "message": {"role": "assistant", "content": "B"}}),
        ("gen_ai.choice", {"index": 0, "message": {"content": "A"}}),
    )
    assert compose_io(events) == (
        None,
        json.dumps(
            [{"role": "assistant", "content": "A"}, {"role": "assistant", "content": "B"}], separators=(",", ":")
        ),
    )


def test_events_without_content_compose_nothing() -> None:
    # What openai-v2 sends with message capture off: roles and finish reasons only.
    events = _events(
        ("gen_ai.user.message", None),
        ("gen_ai.choice", {"index": 0, "finish_reason": "stop", "message": {"role": "assistant"}}),
        ("app.started", {"content": "not a GenAI event"}),
    )
    assert compose_io(events) == (None, None)
