"""OTLP/gRPC receiver (TraceService, LogsService and MetricsService Export), sharing the HTTP
receiver's accept path (`accept.accept_otlp`).

The request arrives as raw bytes (no deserializer) so the same decoder inspects it and the
same bytes are persisted. Status codes follow the OTLP spec: INVALID_ARGUMENT for malformed
data (not retried), UNAUTHENTICATED for bad keys, UNAVAILABLE with RetryInfo for backpressure
(a full backlog, the byte budget, too many failed authentications) and transient store
failures (retried by exporters).

The method is served as stream-unary, which a unary client cannot tell apart on the wire, so
that the message is read only when the handler asks for it: after the key is checked and room
for it is taken from the byte budget. A unary handler gets a message gRPC has already received
whole, from anyone. BDP probing is off so that gRPC does not widen its flow-control windows
ahead of that read (with it on, 40 unread 19 MiB messages were buffered at once); a message
being read still gets a window the size of the message. Its size is known only once read, so
room for twice the largest allowed message is taken for the read (gRPC's buffer and the bytes
handed to Python exist together for a moment), waiting up to `retry_after_seconds` for it, and
once it arrived the message's own size is kept. Counting it once let 40 messages of 19 MiB
reach 790 MB above the idle RSS under a 256 MiB budget; twice, 460-490 MB, as fast.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, NoReturn

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from spyglass.collector.budget import Overloaded
from spyglass.collector.config import CollectorConfig
from spyglass.collector.http import AUTH, INTAKE, ORG_KEY_CANNOT_INGEST, ApiError
from spyglass.collector.intake import Intake
from spyglass.collector.receivers.accept import (
    LOGS,
    METRICS,
    TRACES,
    AllRejected,
    Malformed,
    Signal,
    TooLarge,
    accept_otlp,
)
from spyglass.collector.receivers.otlp_status import response_bytes
from spyglass.collector.throttle import client_address, grpc_peer_host
from spyglass.store.errors import RetryableError

log = logging.getLogger("spyglass.collector.grpc")

EXPORT_METHODS = {
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export": TRACES,
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export": LOGS,
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export": METRICS,
}


def _retry_trailer(code: grpc.StatusCode, message: str, seconds: int) -> tuple[tuple[str, bytes], ...]:
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds)))
    st = status_pb2.Status(code=code.value[0], message=message, details=[detail])
    return (("grpc-status-details-bin", st.SerializeToString()),)


async def _unavailable(context: grpc.aio.ServicerContext, message: str, retry_after: int) -> NoReturn:
    context.set_trailing_metadata(_retry_trailer(grpc.StatusCode.UNAVAILABLE, message, retry_after))
    await context.abort(grpc.StatusCode.UNAVAILABLE, message)


class OtlpServiceHandler(grpc.GenericRpcHandler):
    """Reads the authenticator and intake from the app state on every call, like the HTTP
    handlers, so both receivers always share one pipeline."""

    def __init__(self, state: Mapping[Any, Any], max_message: int) -> None:
        self._state = state
        self._max_message = max_message

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        signal = EXPORT_METHODS.get(handler_call_details.method)
        if signal is None:
            return None

        async def export(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> bytes:
            return await self._export(signal, context)

        return grpc.stream_unary_rpc_method_handler(export)

    async def _export(self, signal: Signal, context: grpc.aio.ServicerContext) -> bytes:
        # The message is read with `context.read()`, once there is room for it; the request
        # iterator (which would read it) is never iterated.
        metadata: dict[str, str] = {}
        for key, value in context.invocation_metadata() or ():
            if key in ("authorization", "x-forwarded-for"):
                metadata[key] = value if isinstance(value, str) else value.decode("latin-1")
        auth = self._state[AUTH]
        client = client_address(
            grpc_peer_host(context.peer()), metadata.get("x-forwarded-for"), auth.limits.trusted_proxies
        )
        try:
            scope = await auth.check(metadata.get("authorization"), client=client)
        except ApiError as exc:
            if exc.status_code == 429:
                await _unavailable(context, exc.message, int(exc.headers["Retry-After"]))
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, exc.message)
        if scope.project_id is None:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, ORG_KEY_CANNOT_INGEST)
        intake: Intake = self._state[INTAKE]
        with intake.budget.lease() as lease:
            try:
                await intake.check_capacity()
                await lease.take_waiting(2 * self._max_message, intake.budget.retry_after)
            except Overloaded as exc:
                await _unavailable(context, str(exc), exc.retry_after)
            request = await context.read()
            if request is grpc.aio.EOF:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"no {signal.request} was sent")
            assert isinstance(request, bytes)
            lease.give_back(lease.held - len(request))
            try:
                accepted = await accept_otlp(
                    intake,
                    scope.project_id,
                    signal,
                    request,
                    fmt="pb",
                    coding=None,
                    limit=self._max_message,
                    lease=lease,
                )
            except (Malformed, AllRejected, TooLarge) as exc:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            except RetryableError:
                await _unavailable(context, "temporarily unable to persist the payload; retry", 2)
        return response_bytes(signal.name, accepted.rejected, accepted.message)


async def start_grpc_server(cfg: CollectorConfig, state: Mapping[Any, Any]) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", cfg.max_body_bytes),
            ("grpc.max_send_message_length", 4 * 1024 * 1024),
            ("grpc.http2.bdp_probe", 0),
        ],
    )
    server.add_generic_rpc_handlers((OtlpServiceHandler(state, cfg.max_body_bytes),))
    port = server.add_insecure_port(f"{cfg.grpc_host}:{cfg.grpc_port}")
    if port == 0:
        from spyglass.store.errors import StartupError

        raise StartupError("otlp-grpc", f"{cfg.grpc_host}:{cfg.grpc_port}", "cannot bind the port (in use?)")
    await server.start()
    return server, port
