"""OTLP responses in the request's own encoding (protobuf or JSON), per the OTLP spec:
success is the signal's Export*ServiceResponse (with partial_success when items were
rejected), errors are a google.rpc.Status."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

# gRPC status codes used in Status bodies.
INVALID_ARGUMENT = 3
UNAUTHENTICATED = 16
UNAVAILABLE = 14
INTERNAL = 13

_HTTP_TO_GRPC = {
    400: INVALID_ARGUMENT,
    401: UNAUTHENTICATED,
    413: INVALID_ARGUMENT,
    415: INVALID_ARGUMENT,
    429: UNAVAILABLE,
    503: UNAVAILABLE,
    500: INTERNAL,
}


# Per signal: the response message and its partial_success count field (proto name, JSON name).
_RESPONSES: dict[str, tuple[Any, str, str]] = {
    "traces": (trace_service_pb2.ExportTraceServiceResponse, "rejected_spans", "rejectedSpans"),
    "logs": (logs_service_pb2.ExportLogsServiceResponse, "rejected_log_records", "rejectedLogRecords"),
    "metrics": (metrics_service_pb2.ExportMetricsServiceResponse, "rejected_data_points", "rejectedDataPoints"),
}


def response_bytes(signal: str, rejected: int = 0, message: str = "") -> bytes:
    """The signal's Export*ServiceResponse, serialized (HTTP protobuf bodies and gRPC)."""
    kind, field, _ = _RESPONSES[signal]
    resp = kind()
    if rejected or message:
        setattr(resp.partial_success, field, rejected)
        resp.partial_success.error_message = message
    return resp.SerializeToString()


def success(content_type: str, signal: str = "traces", rejected: int = 0, message: str = "") -> web.Response:
    if content_type == PROTOBUF:
        return web.Response(body=response_bytes(signal, rejected, message), content_type=PROTOBUF)
    body: dict[str, object] = {}
    if rejected or message:
        # int64 fields are strings in OTLP/JSON.
        body["partialSuccess"] = {_RESPONSES[signal][2]: str(rejected), "errorMessage": message}
    return web.Response(body=msgspec.json.encode(body), content_type=JSON)


def error(content_type: str, status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    code = _HTTP_TO_GRPC.get(status, INTERNAL)
    if content_type == PROTOBUF:
        st = status_pb2.Status(code=code, message=message)
        return web.Response(body=st.SerializeToString(), status=status, content_type=PROTOBUF, headers=headers)
    return web.Response(
        body=msgspec.json.encode({"code": code, "message": message}),
        status=status,
        content_type=JSON,
        headers=headers,
    )
