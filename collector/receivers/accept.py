"""The OTLP accept sequence, one for every signal and transport: stage → check → commit.

A receiver authenticates, checks capacity and reads the body under a byte-budget lease; then
`accept_otlp` persists the body while checking it (`Intake.stage`), and queues it once the
check passed. The outcome is either an `Accepted` (with OTLP partial success) or one of the
exceptions below, which each receiver translates into its own answer: an HTTP status with a
google.rpc.Status body, or a gRPC status code (as the OTel Collector's otlpreceiver does).

- `Malformed`: the body cannot be read or decoded (400 / INVALID_ARGUMENT; not retried).
- `TooLarge`: the body inflates past the limit (413 / INVALID_ARGUMENT).
- `AllRejected`: every item was invalid (400 / INVALID_ARGUMENT).
- `RetryableError` (store/errors.py): the raw log or the queue failed for now (503 / UNAVAILABLE).

Signals differ only in how a body is checked and whether it is kept: traces and logs go to the
raw log (and from there to the worker); metrics are checked and acknowledged, not kept.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Literal

import msgspec

from spyglass.collector.budget import Lease
from spyglass.collector.compression import InflatedTooLarge, InflateError, inflate
from spyglass.collector.intake import Intake
from spyglass.collector.otel import OtlpDecodeError
from spyglass.collector.rawlog import Encoding, Fmt, Source
from spyglass.collector.receivers.bodies import off_loop
from spyglass.collector.receivers.inspect import Inspection, inspect_logs, inspect_metrics, inspect_request
from spyglass.store.errors import RetryableError

log = logging.getLogger("spyglass.collector.accept")

SignalName = Literal["traces", "logs", "metrics"]


class Signal(msgspec.Struct, frozen=True):
    name: SignalName
    # What one item of the export is called in messages ("every span was invalid").
    item: str
    # The raw-log source its bodies are kept under; None: checked and acknowledged, not kept.
    source: Source | None
    inspect: Callable[[bytes, Fmt], Inspection]
    # The export request's message name (gRPC's "no ... was sent").
    request: str


TRACES = Signal("traces", "span", "otel", inspect_request, "ExportTraceServiceRequest")
LOGS = Signal("logs", "log record", "otel-logs", inspect_logs, "ExportLogsServiceRequest")
METRICS = Signal("metrics", "data point", None, inspect_metrics, "ExportMetricsServiceRequest")
SIGNALS = (TRACES, LOGS, METRICS)


class Malformed(Exception):
    """The body cannot be read or decoded; the message is the client's answer."""


class TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"body exceeds {limit} bytes after decompression")


class AllRejected(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)


class Accepted(msgspec.Struct, frozen=True):
    rejected: int = 0
    message: str = ""


class _Checked(msgspec.Struct, frozen=True):
    stored: bytes
    encoding: Encoding
    inspection: Inspection | None  # None: the body is empty once inflated
    inflated: int  # bytes inflated to check the body (0 when it came plain)


def _kept_as_received(coding: str | None) -> Encoding | None:
    """The raw-log encoding of a body persisted exactly as received (plain or gzip); None for a
    deflate body, which is persisted inflated: few exporters send deflate, and it comes in two
    flavours (zlib-wrapped or raw), so the raw log keeps a single compressed encoding."""
    if coding is None:
        return "identity"
    return "gzip" if coding in ("gzip", "x-gzip") else None


def _check(signal: Signal, received: bytes, coding: str | None, fmt: Fmt, limit: int, lease: Lease) -> _Checked:
    """Inflate (when still compressed, counting the output under `lease`) and inspect; runs in
    a thread, off the event loop."""
    plain = received if coding is None else inflate(received, coding, limit, lease.take)
    inspection = signal.inspect(plain, fmt) if plain else None
    inflated = 0 if coding is None else len(plain)
    as_received = _kept_as_received(coding)
    if as_received is not None:
        return _Checked(received, as_received, inspection, inflated)
    return _Checked(plain, "identity", inspection, inflated)


async def accept_otlp(
    intake: Intake,
    project_id: str,
    signal: Signal,
    received: bytes,
    *,
    fmt: Fmt,
    coding: str | None,
    limit: int,
    lease: Lease,
) -> Accepted:
    """Check `received` (still in content coding `coding`, None when plain) and, for a kept
    signal, make it durable and queue it. The client may be told success once this returns."""
    if not received:
        return Accepted()
    as_received = _kept_as_received(coding)
    # Persisted while it is checked; deleted again if the check fails. A deflate body is
    # stored inflated, so its write has to wait for the check.
    staged = (
        await intake.stage(project_id, signal.source, fmt, received, as_received)
        if signal.source is not None and as_received is not None
        else None
    )
    with staged or contextlib.nullcontext():
        try:
            checked = await off_loop(_check, signal, received, coding, fmt, limit, lease)
        except InflatedTooLarge:
            raise TooLarge(limit) from None
        except InflateError as exc:
            raise Malformed(f"cannot read body ({coding}): {exc}") from None
        except OtlpDecodeError as exc:
            raise Malformed(str(exc)) from None
        if as_received is not None:
            # The inflated copy died with the check; only the body as received is still held.
            lease.give_back(checked.inflated)
        else:
            lease.give_back(len(received))
            del received
        inspection = checked.inspection
        if inspection is None or inspection.total == 0:
            return Accepted()
        if inspection.rejected == inspection.total:
            raise AllRejected(f"every {signal.item} was invalid: {inspection.message}")
        if signal.source is not None and inspection.keep:
            try:
                if staged is not None:
                    await staged.commit()
                else:
                    await intake.submit(project_id, signal.source, fmt, checked.stored, checked.encoding)
            except RetryableError as exc:
                log.warning("could not persist an OTLP %s payload: %s", signal.name, exc)
                raise
    return Accepted(inspection.rejected, inspection.message)
