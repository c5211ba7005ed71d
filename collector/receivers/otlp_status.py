"""OTLP responses in the request's own encoding (protobuf or JSON), per the OTLP spec:
success is an ExportTraceServiceResponse (with partial_success when spans were rejected),
errors are a google.rpc.Status."""

from __future__ import annotations

import msgspec
from aiohttp import web
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

# gRPC status codes used in Status bodies.
INVALID_ARGUMENT = 3
RESOURCE_EXHAUSTED = 8
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


def success(content_type: str, rejected: int = 0, message: str = "") -> web.Response:
    if content_type == PROTOBUF:
        resp = trace_service_pb2.ExportTraceServiceResponse()
        if rejected or message:
            resp.partial_success.rejected_spans = rejected
            resp.partial_success.error_message = message
        return web.Response(body=resp.SerializeToString(), content_type=PROTOBUF)
    body: dict[str, object] = {}
    if rejected or message:
        # int64 fields are strings in OTLP/JSON.
        body["partialSuccess"] = {"rejectedSpans": str(rejected), "errorMessage": message}
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
