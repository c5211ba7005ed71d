"""``POST /api/public/ingestion``: split the batch, validate each event on its own, build the 207 answer.

The body is parsed once into ``{batch: [Raw, ...]}`` (a zero-copy scan), then each event is decoded
and validated by a single msgspec call against the typed union. One bad event never costs the
others: it becomes an :class:`EventError` and the rest are accepted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from spyglass.collector.events.envelopes import IngestionEvent
from spyglass.collector.events.problems import EventError, InvalidRequest, describe
from spyglass.collector.json_depth import JsonTooDeep, check_depth

INGESTION_STATUS = 207  # the answer to any processed batch, whatever the mix of results


class _Request(msgspec.Struct):
    batch: list[msgspec.Raw]
    metadata: Any = None


class _IdProbe(msgspec.Struct):
    id: Any = None


class ValidatedBatch(msgspec.Struct, kw_only=True):
    events: list[IngestionEvent]
    errors: list[EventError]
    metadata: Any = None  # the request's own ``metadata`` (SDK name/version), passed through


class Success(msgspec.Struct):
    id: str
    status: int = 201


class IngestionResponse(msgspec.Struct):
    """Body of the 207 answer; 201 means *accepted and queued*, not yet processed."""

    successes: list[Success]
    errors: list[EventError]


_REQUEST = msgspec.json.Decoder(_Request)
_EVENT = msgspec.json.Decoder(IngestionEvent)
_ID_PROBE = msgspec.json.Decoder(_IdProbe)


def require_utf8(data: bytes | bytearray | memoryview | str) -> None:
    """JSON text is UTF-8 (RFC 8259). msgspec checks strings only where it decodes them, and
    then raises UnicodeDecodeError: one check up front makes a bad body one clear 400."""
    if isinstance(data, str):
        return  # already text
    try:
        str(data, "utf-8")  # any buffer: bytes, bytearray, memoryview
    except UnicodeDecodeError as error:
        raise InvalidRequest(f"request body is not valid UTF-8: {error}") from None


def require_decodable(data: bytes | bytearray | memoryview | str) -> None:
    """UTF-8 and nested no deeper than every later decode can go (`collector.json_depth`): what
    every ingestion body is checked for before anything decodes it."""
    require_utf8(data)
    try:
        check_depth(data)
    except JsonTooDeep as error:
        raise InvalidRequest(f"request body: {error}") from None


def _event_id(raw: bytes | msgspec.Raw) -> str:
    """The envelope id of an event that failed validation, for its error entry; else ``unknown``."""
    try:
        probe = _ID_PROBE.decode(raw)
    except msgspec.DecodeError:
        return "unknown"
    return probe.id if isinstance(probe.id, str) and probe.id else "unknown"


def decode_event(raw: bytes | msgspec.Raw) -> IngestionEvent | EventError:
    """One event (its JSON), validated: the typed event, or the error entry reporting it."""
    try:
        return _EVENT.decode(raw)
    except msgspec.ValidationError as error:
        return EventError(id=_event_id(raw), message=describe(error))


def parse_ingestion_body(
    data: bytes | bytearray | memoryview | str,
    *,
    allowed_types: frozenset[str] | None = None,
) -> ValidatedBatch:
    """Validate a whole ingestion request body.

    ``allowed_types`` restricts the event types the caller's key may send (a public-key-only
    ``scores`` key may send ``score-create`` and ``sdk-log``); other events get a 401 entry.
    Raises :class:`InvalidRequest` only when the body itself is not ``{batch: [...]}``.
    """
    require_decodable(data)
    try:
        request = _REQUEST.decode(data)
    except msgspec.ValidationError as error:
        problem = describe(error, subject="body")
        raise InvalidRequest(f"request body must be a JSON object with a `batch` array ({problem})") from None
    except msgspec.DecodeError as error:
        raise InvalidRequest(f"request body is not valid JSON: {error}") from None
    events: list[IngestionEvent] = []
    errors: list[EventError] = []
    for raw in request.batch:
        result = decode_event(raw)
        if isinstance(result, EventError):
            errors.append(result)
        elif allowed_types is not None and result.type not in allowed_types:
            errors.append(
                EventError(
                    id=result.id,
                    status=401,
                    message=f"type: '{result.type}' is not allowed with this API key",
                    error="Access denied",
                )
            )
        else:
            events.append(result)
    return ValidatedBatch(events=events, errors=errors, metadata=request.metadata)


def build_ingestion_response(accepted: Iterable[IngestionEvent], errors: Iterable[EventError]) -> IngestionResponse:
    """``{"successes": [{"id", "status": 201}], "errors": [...]}``, sent with HTTP 207."""
    return IngestionResponse(
        successes=[Success(event.id) for event in accepted],
        errors=list(errors),
    )
