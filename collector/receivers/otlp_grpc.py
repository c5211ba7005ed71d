"""OTLP/gRPC trace receiver (TraceService/Export), sharing the HTTP receiver's pipeline.

The request arrives as raw bytes (no deserializer) so the same decoder inspects it and the
same bytes are persisted. Status codes follow the OTLP spec: INVALID_ARGUMENT for malformed
data (not retried), UNAUTHENTICATED for bad keys, UNAVAILABLE with RetryInfo for backpressure
and transient store failures (retried by exporters).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from spyglass.collector.config import CollectorConfig
from spyglass.collector.http.errors import ORG_KEY_CANNOT_INGEST, ApiError
from spyglass.collector.http.state import AUTH, INTAKE
from spyglass.collector.intake import Overloaded
from spyglass.collector.otel import OtlpDecodeError
from spyglass.collector.receivers.bodies import off_loop
from spyglass.collector.receivers.inspect import inspect_request
from spyglass.store.errors import RetryableError

log = logging.getLogger("spyglass.collector.grpc")

EXPORT_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _retry_trailer(code: grpc.StatusCode, message: str, seconds: int) -> tuple[tuple[str, bytes], ...]:
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds)))
    st = status_pb2.Status(code=code.value[0], message=message, details=[detail])
    return (("grpc-status-details-bin", st.SerializeToString()),)


class TraceServiceHandler(grpc.GenericRpcHandler):
    """Reads the authenticator and intake from the app state on every call, like the HTTP
    handlers, so both receivers always share one pipeline."""

    def __init__(self, state: Mapping[Any, Any]) -> None:
        self._state = state

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        if handler_call_details.method == EXPORT_METHOD:
            return grpc.unary_unary_rpc_method_handler(self._export)
        return None

    async def _export(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        header = None
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                header = value if isinstance(value, str) else value.decode("latin-1")
        try:
            scope = await self._state[AUTH].check(header)
        except ApiError as exc:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, exc.message)
        if scope.project_id is None:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, ORG_KEY_CANNOT_INGEST)
        try:
            await self._state[INTAKE].check_capacity()
        except Overloaded as exc:
            context.set_trailing_metadata(_retry_trailer(grpc.StatusCode.UNAVAILABLE, str(exc), exc.retry_after))
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        response = trace_service_pb2.ExportTraceServiceResponse()
        if not request:
            return response.SerializeToString()
        intake = self._state[INTAKE]
        # Persisted while it is parsed (see `Intake.stage`); deleted again if rejected.
        with await intake.stage(scope.project_id, "otel", "pb", request) as staged:
            try:
                # Parsing a batch takes milliseconds: keep it off the loop, as the HTTP receiver does.
                inspection = await off_loop(inspect_request, request, "pb")
            except OtlpDecodeError as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed OTLP protobuf: {exc}")
            if inspection.total_spans == 0:
                return response.SerializeToString()
            if inspection.rejected_spans == inspection.total_spans:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"every span was invalid: {inspection.message}")
            try:
                await staged.commit()
            except RetryableError as exc:
                log.warning("could not persist an OTLP/gRPC payload: %s", exc)
                msg = "temporarily unable to persist the payload; retry"
                context.set_trailing_metadata(_retry_trailer(grpc.StatusCode.UNAVAILABLE, msg, 2))
                await context.abort(grpc.StatusCode.UNAVAILABLE, msg)
        if inspection.rejected_spans:
            response.partial_success.rejected_spans = inspection.rejected_spans
            response.partial_success.error_message = inspection.message
        return response.SerializeToString()


async def start_grpc_server(cfg: CollectorConfig, state: Mapping[Any, Any]) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", cfg.max_body_bytes),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
        ],
    )
    server.add_generic_rpc_handlers((TraceServiceHandler(state),))
    port = server.add_insecure_port(f"{cfg.grpc_host}:{cfg.grpc_port}")
    if port == 0:
        from spyglass.store.errors import StartupError

        raise StartupError("otlp-grpc", f"{cfg.grpc_host}:{cfg.grpc_port}", "cannot bind the port (in use?)")
    await server.start()
    return server, port
