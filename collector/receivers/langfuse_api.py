"""Langfuse's own ingestion endpoints: the batch ingestion API, scores, and the deprecated
per-entity writers. Each event is validated on its own; the valid ones are persisted to the
raw log as one payload and queued, and the answer says which were accepted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

from spyglass.collector.budget import Lease, Overloaded
from spyglass.collector.compression import INFLATABLE, InflatedTooLarge, InflateError
from spyglass.collector.events import (
    IngestionEvent,
    InvalidRequest,
    SdkLog,
    build_ingestion_response,
    build_scores_response,
    convert_legacy_request,
    parse_ingestion_body,
    parse_scores_body,
)
from spyglass.collector.events.envelopes import ScoreCreate
from spyglass.collector.events.legacy_api import Method, Resource
from spyglass.collector.events.problems import EventError
from spyglass.collector.events.score_config import named_configs, screen_scores
from spyglass.collector.http import AUTH, INTAKE, ORG_KEY_CANNOT_INGEST, STORES, ApiError, bad_request, json_response
from spyglass.collector.receivers.bodies import (
    BodyTooLarge,
    BodyUnreadable,
    body_limit,
    compressed_encoding,
    raw_body,
    read_body,
)
from spyglass.collector.worker.merge import encode_events
from spyglass.store.postgres.score_configs_repo import load_score_configs

log = logging.getLogger("spyglass.collector.ingestion")

# A public key alone (browser feedback) may only send scores.
_SCORES_ONLY = frozenset({"score-create", "sdk-log"})


async def _read(request: web.Request, lease: Lease) -> bytes:
    """The body, inflated as it arrives (the events are validated and re-encoded before they are
    persisted, so the compressed bytes are never kept), under the request's budget lease."""
    try:
        await request.app[INTAKE].check_capacity()
        coding = compressed_encoding(request)
        if coding is not None and coding not in INFLATABLE:
            raise bad_request(f"cannot read body: unsupported Content-Encoding {coding!r}")
        limit = body_limit(request)
        try:
            return await read_body(request, lease, limit, coding)
        except (BodyTooLarge, InflatedTooLarge):
            raise ApiError(413, f"body exceeds {limit} bytes") from None
        except (BodyUnreadable, InflateError) as exc:
            raise bad_request(f"cannot read body: {exc}") from None
    except Overloaded as exc:
        raise ApiError(429, str(exc), {"Retry-After": str(exc.retry_after)}) from None


async def _screen(
    request: web.Request, project_id: str, events: list[IngestionEvent]
) -> tuple[list[IngestionEvent], list[tuple[ScoreCreate, str]]]:
    """The events to accept, and the new scores that do not fit the score config they name with
    the reason (the worker's rule). One PostgreSQL query, and none when no score names a config."""
    ids = named_configs(events)
    if not ids:
        return events, []
    configs = await load_score_configs(request.app[STORES].pg, project_id, ids)
    return screen_scores(events, configs, project_id)


async def _persist(request: web.Request, project_id: str, events: Sequence[IngestionEvent]) -> None:
    stored = [e for e in events if not isinstance(e, SdkLog)]
    for e in events:
        if isinstance(e, SdkLog):
            log.info("sdk-log from project %s: %s", project_id, str(e.body)[:500])
    if stored:
        await request.app[INTAKE].submit(project_id, "ingestion", "json", encode_events(stored))


@raw_body
async def ingestion(request: web.Request) -> web.Response:
    scope = await request.app[AUTH].authenticate(request, public_key_ok=True)
    if scope.project_id is None:
        raise ApiError(403, ORG_KEY_CANNOT_INGEST)
    allowed = _SCORES_ONLY if scope.access_level == "scores" else None
    with request.app[INTAKE].budget.lease() as lease:
        try:
            batch = parse_ingestion_body(await _read(request, lease), allowed_types=allowed)
        except InvalidRequest as exc:
            raise bad_request(str(exc)) from None
        events, misfits = await _screen(request, scope.project_id, batch.events)
        await _persist(request, scope.project_id, events)
    errors = batch.errors + [EventError(id=event.id, message=message) for event, message in misfits]
    response = build_ingestion_response(events, errors)
    return json_response(response, 207)


@raw_body
async def scores(request: web.Request) -> web.Response:
    scope = await request.app[AUTH].authenticate(request, public_key_ok=True)
    if scope.project_id is None:
        raise ApiError(403, "Forbidden: an organization key cannot write scores; use a project key")
    with request.app[INTAKE].budget.lease() as lease:
        try:
            parsed = parse_scores_body(await _read(request, lease))
        except InvalidRequest as exc:
            raise bad_request(str(exc)) from None
        kept, misfits = await _screen(request, scope.project_id, list(parsed.events))
        if misfits and parsed.single:
            raise bad_request(misfits[0][1])
        parsed.events = [e for e in kept if isinstance(e, ScoreCreate)]
        parsed.errors += [EventError(id=str(event.body.id), message=message) for event, message in misfits]
        await _persist(request, scope.project_id, parsed.events)
    status, payload = build_scores_response(parsed)
    return json_response(payload, status)


def _legacy(resource: Resource, method: Method) -> Callable[[web.Request], Awaitable[web.Response]]:
    @raw_body
    async def handler(request: web.Request) -> web.Response:
        scope = await request.app[AUTH].authenticate(request)
        if scope.project_id is None:
            raise ApiError(403, ORG_KEY_CANNOT_INGEST)
        with request.app[INTAKE].budget.lease() as lease:
            try:
                event = convert_legacy_request(resource, method, await _read(request, lease))
            except InvalidRequest as exc:
                raise bad_request(str(exc)) from None
            await _persist(request, scope.project_id, [event])
        return json_response({"id": event.body.id})

    return handler


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/public/ingestion", ingestion)
    app.router.add_post("/api/public/scores", scores)
    app.router.add_post("/api/public/traces", _legacy("traces", "POST"))
    resources: tuple[Resource, ...] = ("spans", "generations")
    for resource in resources:
        app.router.add_post(f"/api/public/{resource}", _legacy(resource, "POST"))
        app.router.add_patch(f"/api/public/{resource}", _legacy(resource, "PATCH"))
    app.router.add_post("/api/public/events", _legacy("events", "POST"))
