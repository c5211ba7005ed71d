"""The deprecated single-entity endpoints, turned into the same typed events as the ingestion batch.

``POST /api/public/traces``, ``POST|PATCH /api/public/spans``, ``POST|PATCH /api/public/generations``
and ``POST /api/public/events`` take the event body itself. Their old field names are mapped over:
``spanId``/``generationId`` name the entity on PATCH, and generations may say ``prompt`` and
``completion`` for ``input`` and ``output``. Like upstream these are asynchronous now: the caller
queues the event and answers with the entity id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from spyglass.collector.events.envelopes import (
    EventCreate,
    GenerationCreate,
    GenerationUpdate,
    IngestionEvent,
    SpanCreate,
    SpanUpdate,
    TraceCreate,
)
from spyglass.collector.events.problems import InvalidRequest, describe
from spyglass.collector.events.validate import require_decodable

Resource = Literal["traces", "spans", "generations", "events"]
Method = Literal["POST", "PATCH"]

_EVENT_TYPES: dict[tuple[str, str], str] = {
    ("traces", "POST"): "trace-create",
    ("spans", "POST"): "span-create",
    ("spans", "PATCH"): "span-update",
    ("generations", "POST"): "generation-create",
    ("generations", "PATCH"): "generation-update",
    ("events", "POST"): "event-create",
}
_PATCH_ID_KEYS = {"spans": "spanId", "generations": "generationId"}

LegacyEvent = TraceCreate | SpanCreate | SpanUpdate | GenerationCreate | GenerationUpdate | EventCreate
_DECODER = msgspec.json.Decoder(IngestionEvent)


def _new_id() -> str:
    return str(uuid.uuid4())


def convert_legacy_request(
    resource: Resource,
    method: Method,
    data: bytes | bytearray | memoryview | str,
    *,
    now: datetime | None = None,
    new_id: Callable[[], str] = _new_id,
) -> LegacyEvent:
    """The typed event for one deprecated-endpoint request; raises :class:`InvalidRequest`.

    The entity id (``event.body.id``) is what the endpoint returns; one is generated for a POST
    that does not name it.
    """
    event_type = _EVENT_TYPES.get((resource, method))
    if event_type is None:
        raise InvalidRequest(f"{method} is not supported on /api/public/{resource}")
    require_decodable(data)
    try:
        body = msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise InvalidRequest(f"request body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise InvalidRequest(f"request body must be a JSON object, got {type(body).__name__}")
    body = _modernize(resource, method, body, new_id)
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    envelope = {
        "id": new_id(),
        "timestamp": moment.isoformat(),
        "type": event_type,
        "body": body,
    }
    try:
        event = _DECODER.decode(msgspec.json.encode(envelope))
    except msgspec.ValidationError as error:
        raise InvalidRequest(describe(error).removeprefix("body.")) from None
    return event  # type: ignore[return-value]  # the type tag pins the class


def _modernize(resource: str, method: str, body: dict[str, Any], new_id: Callable[[], str]) -> dict[str, Any]:
    body = dict(body)
    if method == "PATCH":
        id_key = _PATCH_ID_KEYS[resource]
        entity_id = body.pop(id_key, None) or body.get("id")
        if not entity_id:
            raise InvalidRequest(f"{id_key}: is required")
        body["id"] = entity_id
    elif body.get("id") is None:
        body["id"] = new_id()
    if resource == "generations":
        if body.get("input") is None and "prompt" in body:
            body["input"] = body.pop("prompt")
        if body.get("output") is None and "completion" in body:
            body["output"] = body.pop("completion")
    return body
