"""OTLP/HTTP receiver: POST /v1/{traces,logs,metrics} and /api/public/otel/v1/{...}.

Protobuf and JSON on the same path, gzip/deflate (inflated in a thread, under the body limit,
so a zip bomb is a 413, not an OOM), partial success for individually invalid items, and every
answer in the request's own encoding. Bodies are read under the process's byte budget
(`collector/budget.py`); what happens to them is `accept.accept_otlp`'s, shared with gRPC.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from spyglass.collector.budget import Overloaded
from spyglass.collector.http import AUTH, INTAKE, ORG_KEY_CANNOT_INGEST, ApiError
from spyglass.collector.rawlog import Fmt
from spyglass.collector.receivers import otlp_status as st
from spyglass.collector.receivers.accept import SIGNALS, AllRejected, Malformed, Signal, TooLarge, accept_otlp
from spyglass.collector.receivers.bodies import (
    BodyTooLarge,
    BodyUnreadable,
    body_limit,
    compressed_encoding,
    raw_body,
    read_body,
)
from spyglass.store.errors import RetryableError

log = logging.getLogger("spyglass.collector.otlp")

_ENCODINGS = {"", "identity", "gzip", "x-gzip", "deflate"}


def _format(request: web.Request) -> tuple[str, Fmt] | None:
    ctype = request.content_type.lower()
    if ctype in ("application/x-protobuf", "application/protobuf"):
        return st.PROTOBUF, "pb"
    if ctype == "application/json":
        return st.JSON, "json"
    return None


def _handler(signal: Signal) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @raw_body
    async def export(request: web.Request) -> web.StreamResponse:
        return await _export(request, signal)

    return export


async def _export(request: web.Request, signal: Signal) -> web.StreamResponse:
    fmt = _format(request)
    if fmt is None:
        return st.error(
            st.JSON,
            415,
            f"unsupported Content-Type {request.content_type!r}: send application/x-protobuf or application/json",
        )
    ctype, short = fmt
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in _ENCODINGS:
        return st.error(ctype, 415, f"unsupported Content-Encoding {encoding!r}: use gzip, deflate or none")
    try:
        scope = await request.app[AUTH].authenticate(request)
    except ApiError as exc:
        return st.error(ctype, exc.status_code, exc.message, exc.headers or None)
    if scope.project_id is None:
        return st.error(ctype, 403, ORG_KEY_CANNOT_INGEST)
    intake = request.app[INTAKE]
    limit = body_limit(request)
    with intake.budget.lease() as lease:
        try:
            await intake.check_capacity()
            try:
                received = await read_body(request, lease, limit)
            except BodyTooLarge:
                return st.error(ctype, 413, f"body exceeds {limit} bytes after decompression")
            except BodyUnreadable as exc:
                return st.error(ctype, 400, f"cannot read body ({encoding or 'identity'}): {exc}")
            accepted = await accept_otlp(
                intake,
                scope.project_id,
                signal,
                received,
                fmt=short,
                coding=compressed_encoding(request),
                limit=limit,
                lease=lease,
            )
        except Overloaded as exc:
            return st.error(ctype, 429, str(exc), {"Retry-After": str(exc.retry_after)})
        except TooLarge as exc:
            return st.error(ctype, 413, str(exc))
        except (Malformed, AllRejected) as exc:
            return st.error(ctype, 400, str(exc))
        except RetryableError:
            return st.error(ctype, 503, "temporarily unable to persist the payload; retry", {"Retry-After": "2"})
    return st.success(ctype, signal.name, accepted.rejected, accepted.message)


def add_routes(app: web.Application) -> None:
    for signal in SIGNALS:
        handler = _handler(signal)
        for path in (f"/v1/{signal.name}", f"/api/public/otel/v1/{signal.name}"):
            app.router.add_post(path, handler)
