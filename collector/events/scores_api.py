"""``POST /api/public/scores``: one score object (py v2's fern client) or an array of them (py v5).

Either way the scores become ``score-create`` events checked by the very same rules as in the
ingestion batch. The envelope timestamp is the body's ``timestamp`` when sent (py v5 always sends
it, and re-sending the same id with the same timestamp is how it updates a score), else now.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from spyglass.collector.events.bodies import ScoreBody
from spyglass.collector.events.envelopes import ScoreCreate
from spyglass.collector.events.problems import EventError, InvalidRequest, describe
from spyglass.collector.events.validate import require_decodable

_BODY = msgspec.json.Decoder(ScoreBody)
_ANY = msgspec.json.Decoder(msgspec.Raw)
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])


class _IdProbe(msgspec.Struct):
    id: Any = None


_ID_PROBE = msgspec.json.Decoder(_IdProbe)


class ScoresRequest(msgspec.Struct, kw_only=True):
    events: list[ScoreCreate]
    errors: list[EventError]
    single: bool  # a single object was posted: answer 200 {"id"}; an array: 202 or 207


def _new_id() -> str:
    return str(uuid.uuid4())


def _score_event(raw: msgspec.Raw, now: datetime, new_id: Callable[[], str]) -> ScoreCreate | EventError:
    try:
        body = _BODY.decode(raw)
    except msgspec.ValidationError as error:
        try:
            probe = _ID_PROBE.decode(raw).id
        except msgspec.DecodeError:
            probe = None
        score_id = probe if isinstance(probe, str) and probe else "unknown"
        return EventError(id=score_id, message=describe(error, subject="score"))
    if body.id is None:
        body.id = new_id()
    moment = body.timestamp or now
    if moment.tzinfo is None:  # py v5 sends naive times as UTC with Z; others may not
        moment = moment.replace(tzinfo=UTC)
    return ScoreCreate(id=new_id(), timestamp=moment, body=body)


def parse_scores_body(
    data: bytes | bytearray | memoryview | str,
    *,
    now: datetime | None = None,
    new_id: Callable[[], str] = _new_id,
) -> ScoresRequest:
    """Validate a ``POST /api/public/scores`` body.

    A single object that is invalid raises :class:`InvalidRequest` (answer 400); invalid items of
    an array are reported in ``errors`` next to the accepted ones. ``now``/``new_id`` exist so
    tests (and replays) can make the result deterministic.
    """
    moment = now or datetime.now(UTC)
    require_decodable(data)
    try:
        raw = _ANY.decode(data)
    except msgspec.DecodeError as error:
        raise InvalidRequest(f"request body is not valid JSON: {error}") from None
    if memoryview(raw)[:1].tobytes() == b"[":
        items = _ITEMS.decode(raw)
        events: list[ScoreCreate] = []
        errors: list[EventError] = []
        for item in items:
            result = _score_event(item, moment, new_id)
            (errors if isinstance(result, EventError) else events).append(result)  # type: ignore[arg-type]
        return ScoresRequest(events=events, errors=errors, single=False)
    result = _score_event(raw, moment, new_id)
    if isinstance(result, EventError):
        raise InvalidRequest(result.message)
    return ScoresRequest(events=[result], errors=[], single=True)


def build_scores_response(request: ScoresRequest) -> tuple[int, dict[str, Any]]:
    """HTTP status and JSON body the SDKs expect for a scores request."""
    if request.single:
        return 200, {"id": request.events[0].body.id}
    if not request.errors:
        return 202, {"message": "Accepted"}
    return 207, {
        "accepted": len(request.events),
        "rejected": len(request.errors),
        "errors": [{"id": error.id, "message": error.message} for error in request.errors],
    }
