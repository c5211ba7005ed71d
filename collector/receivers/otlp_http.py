"""OTLP/HTTP trace receiver: POST /v1/traces and /api/public/otel/v1/traces.

Protobuf and JSON on the same path, gzip/deflate (inflated here, in a thread, under the body
limit, so a zip bomb is a 413, not an OOM), partial success for individually invalid spans,
and every answer in the request's own encoding.

Bodies are read and inflated under the process's byte budget (`collector/budget.py`). A gzip
body is persisted as received (the raw log stores it compressed, see `rawlog.py`); a
deflate body is persisted inflated: few exporters send deflate, and it comes in two flavours
(zlib-wrapped or raw), so the raw log keeps a single compressed encoding.
"""

from __future__ import annotations

import contextlib
import logging

import msgspec
from aiohttp import web

from spyglass.collector.budget import Lease, Overloaded
from spyglass.collector.compression import InflatedTooLarge, InflateError, inflate
from spyglass.collector.http.errors import ORG_KEY_CANNOT_INGEST, ApiError
from spyglass.collector.http.state import AUTH, INTAKE
from spyglass.collector.intake import Intake
from spyglass.collector.otel import OtlpDecodeError
from spyglass.collector.rawlog import Encoding, Fmt
from spyglass.collector.receivers import otlp_status as st
from spyglass.collector.receivers.bodies import (
    BodyTooLarge,
    BodyUnreadable,
    body_limit,
    compressed_encoding,
    off_loop,
    raw_body,
    read_body,
)
from spyglass.collector.receivers.inspect import Inspection, inspect_request
from spyglass.store.errors import RetryableError

log = logging.getLogger("spyglass.collector.otlp")

_ENCODINGS = {"", "identity", "gzip", "x-gzip", "deflate"}


class _Checked(msgspec.Struct, frozen=True):
    stored: bytes
    encoding: Encoding
    inspection: Inspection | None  # None: the body is empty once inflated
    inflated: int  # bytes inflated to check the body (0 when it came plain)


def _kept_as_received(coding: str | None) -> Encoding | None:
    """The raw-log encoding of a body persisted exactly as received (plain or gzip); None for
    a deflate body, which is persisted inflated."""
    if coding is None:
        return "identity"
    return "gzip" if coding in ("gzip", "x-gzip") else None


def _check(received: bytes, coding: str | None, fmt: str, limit: int, lease: Lease) -> _Checked:
    """Inflate (when still compressed, counting the output under `lease`) and inspect; runs in
    a thread, off the event loop."""
    plain = received if coding is None else inflate(received, coding, limit, lease.take)
    inspection = inspect_request(plain, fmt) if plain else None
    inflated = 0 if coding is None else len(plain)
    as_received = _kept_as_received(coding)
    if as_received is not None:
        return _Checked(received, as_received, inspection, inflated)
    return _Checked(plain, "identity", inspection, inflated)


def _format(request: web.Request) -> tuple[str, Fmt] | None:
    ctype = request.content_type.lower()
    if ctype in ("application/x-protobuf", "application/protobuf"):
        return st.PROTOBUF, "pb"
    if ctype == "application/json":
        return st.JSON, "json"
    return None


@raw_body
async def export_traces(request: web.Request) -> web.StreamResponse:
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
    with intake.budget.lease() as lease:
        try:
            await intake.check_capacity()
            return await _accept(request, intake, lease, scope.project_id, ctype, short, encoding)
        except Overloaded as exc:
            return st.error(ctype, 429, str(exc), {"Retry-After": str(exc.retry_after)})


async def _accept(
    request: web.Request, intake: Intake, lease: Lease, project_id: str, ctype: str, short: Fmt, encoding: str
) -> web.StreamResponse:
    limit = body_limit(request)
    try:
        received = await read_body(request, lease, limit)
    except BodyTooLarge:
        return st.error(ctype, 413, f"body exceeds {limit} bytes after decompression")
    except BodyUnreadable as exc:
        return st.error(ctype, 400, f"cannot read body ({encoding or 'identity'}): {exc}")
    if not received:
        return st.success(ctype)
    coding = compressed_encoding(request)
    # Stored as received: persist while checking. A deflate body is stored inflated, so its
    # write has to wait for the check.
    as_received = _kept_as_received(coding)
    staged = await intake.stage(project_id, "otel", short, received, as_received) if as_received is not None else None
    with staged or contextlib.nullcontext():
        try:
            checked = await off_loop(_check, received, coding, short, limit, lease)
        except InflatedTooLarge:
            return st.error(ctype, 413, f"body exceeds {limit} bytes after decompression")
        except InflateError as exc:
            return st.error(ctype, 400, f"cannot read body ({encoding}): {exc}")
        except OtlpDecodeError as exc:
            return st.error(ctype, 400, f"malformed OTLP {'protobuf' if short == 'pb' else 'JSON'} body: {exc}")
        if as_received is not None:
            # The inflated copy died with the check; only the body as received is still held.
            lease.give_back(checked.inflated)
        else:
            # A deflate body is persisted inflated: its compressed bytes are done with.
            lease.give_back(len(received))
            del received
        inspection = checked.inspection
        if inspection is None or inspection.total_spans == 0:
            return st.success(ctype)
        if inspection.rejected_spans == inspection.total_spans:
            return st.error(ctype, 400, f"every span was invalid: {inspection.message}")
        try:
            if staged is not None:
                await staged.commit()
            else:
                await intake.submit(project_id, "otel", short, checked.stored, checked.encoding)
        except RetryableError as exc:
            log.warning("could not persist an OTLP payload: %s", exc)
            return st.error(ctype, 503, "temporarily unable to persist the payload; retry", {"Retry-After": "2"})
    return st.success(ctype, inspection.rejected_spans, inspection.message)


def add_routes(app: web.Application) -> None:
    for path in ("/v1/traces", "/api/public/otel/v1/traces"):
        app.router.add_post(path, export_traces)
