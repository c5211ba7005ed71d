"""OTLP logs and metrics: both transports, the traces' auth, limits and durability.

Logs of a trace are kept (raw log first, then EVENT observations); metrics are checked and
acknowledged, not kept. Exporters that send every signal get success, not 404s.
"""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import msgspec
import pytest
from aiohttp import ClientSession
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics

from spyglass.collector.http import INTAKE
from tests.harness import Harness, ProjectKeys

PB = "application/x-protobuf"
T0 = 1_765_000_000_000_000_000


def _logs(*records: LogRecord) -> bytes:
    request = ExportLogsServiceRequest(resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=list(records))])])
    return request.SerializeToString()


def _metrics(points: int) -> bytes:
    gauge = Gauge(data_points=[NumberDataPoint(time_unix_nano=T0, as_int=i) for i in range(points)])
    request = ExportMetricsServiceRequest(
        resource_metrics=[ResourceMetrics(scope_metrics=[ScopeMetrics(metrics=[Metric(name="m", gauge=gauge)])])]
    )
    return request.SerializeToString()


async def _post(
    spyglass: Harness, keys: ProjectKeys, path: str, body: bytes, ctype: str = PB, **headers: str
) -> tuple[int, bytes, str]:
    async with ClientSession() as http:
        async with http.post(
            f"{spyglass.url}{path}", data=body, headers={**keys.headers, "Content-Type": ctype, **headers}
        ) as resp:
            return resp.status, await resp.read(), resp.content_type


def _accepted(spyglass: Harness) -> int:
    return spyglass.app[INTAKE].accepted_payloads  # type: ignore[index]


async def _events(spyglass: Harness, keys: ProjectKeys, trace_hex: str) -> list[dict[str, Any]]:
    return await spyglass.stores.ch.rows(
        "SELECT name, parent_observation_id, input, level FROM observations "
        "WHERE project_id = {p:String} AND trace_id = {t:String} AND type = 'EVENT' ORDER BY id",
        {"p": keys.project_id, "t": trace_hex},
    )


@pytest.mark.parametrize("path", ["/v1/metrics", "/api/public/otel/v1/metrics"])
async def test_metrics_are_acknowledged_and_not_kept(spyglass: Harness, path: str) -> None:
    keys = await spyglass.new_project()
    before = _accepted(spyglass)
    status, body, ctype = await _post(spyglass, keys, path, _metrics(3))
    assert (status, ctype) == (200, PB)
    assert not ExportMetricsServiceResponse.FromString(body).HasField("partial_success")
    status, body, _ = await _post(
        spyglass,
        keys,
        path,
        b'{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "m", "sum": {"dataPoints": [{}]}}]}]}]}',
        "application/json",
    )
    assert status == 200 and msgspec.json.decode(body) == {}
    assert _accepted(spyglass) == before


async def test_malformed_metrics_and_logs_are_a_400_naming_the_problem(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    for path, request in (("/v1/metrics", "ExportMetricsServiceRequest"), ("/v1/logs", "ExportLogsServiceRequest")):
        status, body, _ = await _post(spyglass, keys, path, b"\x0a\xff\xff\xff\xff\x0f junk")
        assert status == 400
        assert status_pb2.Status.FromString(body).message == (
            "malformed OTLP protobuf body: Error parsing message with type "
            f"'opentelemetry.proto.collector.{path.rsplit('/', 1)[1]}.v1.{request}': Wire format was corrupt"
        )
    status, body, _ = await _post(spyglass, keys, "/v1/logs", b'{"resourceLogs": 3}', "application/json")
    assert status == 400 and msgspec.json.decode(body)["message"] == "OTLP/JSON: resourceLogs must be an array"


async def test_logs_need_a_valid_key(spyglass: Harness) -> None:
    keys = ProjectKeys("nope", "pk-lf-nope", "sk-lf-nope")
    status, body, _ = await _post(spyglass, keys, "/v1/logs", _logs())
    assert status == 401 and status_pb2.Status.FromString(body).message


async def test_log_records_become_events_with_partial_success(stack: Harness) -> None:
    spyglass = stack
    keys = await spyglass.new_project()
    trace, span = bytes(range(1, 17)), bytes(range(1, 9))
    body = _logs(
        LogRecord(
            time_unix_nano=T0, trace_id=trace, span_id=span, event_name="app.step", body=AnyValue(string_value="one")
        ),
        LogRecord(time_unix_nano=T0, trace_id=trace, severity_number=17, body=AnyValue(string_value="trace-level")),
        LogRecord(time_unix_nano=T0, body=AnyValue(string_value="outside any trace")),
        LogRecord(time_unix_nano=T0, trace_id=trace, span_id=b"\x01"),
    )
    before = _accepted(spyglass)
    status, raw, _ = await _post(
        spyglass, keys, "/api/public/otel/v1/logs", gzip.compress(body), **{"Content-Encoding": "gzip"}
    )
    assert status == 200
    partial = ExportLogsServiceResponse.FromString(raw).partial_success
    assert partial.rejected_log_records == 1
    assert partial.error_message.startswith("rejected 1 of 4 log records (invalid span id: 1)")
    assert _accepted(spyglass) == before + 1
    await spyglass.wait_idle()
    rows = await _events(spyglass, keys, trace.hex())
    assert [(r["name"], r["parent_observation_id"], r["input"], r["level"]) for r in rows] == [
        ("app.step", span.hex(), "one", "DEFAULT"),
        ("log", None, "trace-level", "ERROR"),
    ]


async def test_logs_outside_traces_are_acknowledged_without_being_kept(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    before = _accepted(spyglass)
    status, raw, _ = await _post(spyglass, keys, "/v1/logs", _logs(LogRecord(body=AnyValue(string_value="x"))))
    assert status == 200 and not ExportLogsServiceResponse.FromString(raw).HasField("partial_success")
    assert _accepted(spyglass) == before


async def test_every_record_invalid_is_a_400(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    status, raw, _ = await _post(spyglass, keys, "/v1/logs", _logs(LogRecord(trace_id=b"\x00" * 16, time_unix_nano=T0)))
    assert status == 400
    assert status_pb2.Status.FromString(raw).message.startswith(
        "every log record was invalid: rejected 1 of 1 log records (invalid trace id: 1)"
    )


async def test_grpc_exporters_send_logs_and_metrics(spyglass: Harness) -> None:
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider

    keys = await spyglass.new_project()
    metadata = (("authorization", keys.auth_header),)

    def emit() -> str:
        logs = LoggerProvider()
        logs.add_log_record_processor(
            SimpleLogRecordProcessor(OTLPLogExporter(endpoint=spyglass.grpc_target, insecure=True, headers=metadata))
        )
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=spyglass.grpc_target, insecure=True, headers=metadata),
            export_interval_millis=600_000,
        )
        meters = MeterProvider(metric_readers=[reader])
        meters.get_meter("test").create_counter("requests").add(3)
        tracer = TracerProvider().get_tracer("test")
        with tracer.start_as_current_span("work") as span:
            logs.get_logger("test").emit(body="inside the span", event_name="app.note")
        assert reader.force_flush()
        meters.shutdown()
        logs.shutdown()
        return format(span.get_span_context().trace_id, "032x")

    before = _accepted(spyglass)
    trace_hex = await asyncio.to_thread(emit)
    await spyglass.wait_idle()
    assert _accepted(spyglass) == before + 1  # the log payload; metrics are not kept
    rows = await _events(spyglass, keys, trace_hex)
    assert [(r["name"], r["input"]) for r in rows] == [("app.note", "inside the span")]


async def test_grpc_malformed_logs_are_invalid_argument(spyglass: Harness) -> None:
    import grpc

    keys = await spyglass.new_project()
    async with grpc.aio.insecure_channel(spyglass.grpc_target) as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.logs.v1.LogsService/Export")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await export(b"\x0a\xff\xff\xff\xff\x0f junk", metadata=(("authorization", keys.auth_header),))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert info.value.details().startswith(
            "malformed OTLP protobuf body: Error parsing message with type "
            "'opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest'"
        )
        export_metrics = channel.unary_unary("/opentelemetry.proto.collector.metrics.v1.MetricsService/Export")
        reply = await export_metrics(_metrics(2), metadata=(("authorization", keys.auth_header),))
        assert ExportMetricsServiceResponse.FromString(reply) == ExportMetricsServiceResponse()
