"""The middlewares every Spyglass HTTP app runs: one JSON error shape, one NUL check.

Handlers raise `ApiError` (or let a store error escape); the answer is always JSON in Langfuse's
`{"message", "error"}` shape with the status the error's kind decides: retryable store faults 503
with Retry-After, missing rows 404, collisions 409, anything unforeseen 500 under a log reference.
"""

from __future__ import annotations

import logging
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from spyglass.collector.http.errors import ApiError, bad_request, json_response
from spyglass.collector.http.state import LIFECYCLE
from spyglass.store.errors import PermanentError, RetryableError
from spyglass.store.postgres.faults import Conflict, NotFound, refused_nul
from spyglass.store.postgres.text import NUL, NUL_PROBLEM

log = logging.getLogger("spyglass.http")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    lifecycle = request.app[LIFECYCLE]
    lifecycle.in_flight += 1
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.to_response()
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            message = f"Route not found: {request.method} {request.path}" if exc.status == 404 else exc.reason
            return json_response({"message": message, "error": exc.reason}, exc.status, _extra_headers(exc))
        raise
    except RetryableError as exc:
        log.warning("transient store failure on %s %s: %s", request.method, request.path, exc)
        return json_response(
            {"message": f"Temporarily unavailable: {exc}", "error": "ServiceUnavailableError"},
            503,
            {"Retry-After": "2"},
        )
    except (NotFound, Conflict) as exc:
        # A row the request names is missing, or its write collides: the client's to fix.
        status = 404 if isinstance(exc, NotFound) else 409
        return ApiError(status, str(exc).removeprefix(f"{exc.component}: ")).to_response()
    except PermanentError as exc:
        if refused_nul(exc):
            return _nul_refused(request, exc)
        log.error("store error on %s %s: %s", request.method, request.path, exc)
        return json_response({"message": f"Internal error: {exc}", "error": "InternalServerError"}, 500)
    except ConnectionResetError:
        raise  # the client went away mid-request: nobody to answer, aiohttp closes quietly
    except Exception as exc:
        if refused_nul(exc):
            return _nul_refused(request, exc)
        # A bug or an input nobody checked: logged with its traceback under a reference the
        # client sees, answered as JSON like every other error. The body names only the kind
        # of error; its message may quote data or configuration.
        ref = uuid.uuid4().hex[:12]
        log.exception("unexpected error on %s %s (ref %s)", request.method, request.path, ref)
        message = f"Internal Server Error: {type(exc).__name__} (ref {ref})"
        return json_response({"message": message, "error": "InternalServerError"}, 500)
    finally:
        lifecycle.in_flight -= 1


@web.middleware
async def nul_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A NUL in a path segment or query parameter is a 400 naming it, on every route: PostgreSQL
    cannot take it, and no stored name or id holds one."""
    _refuse_nul(request)
    return await handler(request)


def _nul_refused(request: web.Request, exc: Exception) -> web.Response:
    """PostgreSQL refused a NUL that no check caught first: still the client's input."""
    log.warning("NUL refused by PostgreSQL on %s %s: %s", request.method, request.path, exc)
    return json_response({"message": f"Invalid request: a value {NUL_PROBLEM}", "error": "InvalidRequestError"}, 400)


def _extra_headers(exc: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after"}}


def _refuse_nul(request: web.Request) -> None:
    raw = request.raw_path
    if "%00" not in raw and NUL not in raw:
        return
    for name, value in request.match_info.items():
        if NUL in value:
            raise bad_request(f"Invalid path parameter '{name}': {NUL_PROBLEM}")
    for name, value in request.query.items():
        if NUL in name or NUL in value:
            shown = name.replace(NUL, "\\u0000")
            raise bad_request(f"Invalid query parameter '{shown}': {NUL_PROBLEM}")
    if NUL in request.path:
        raise bad_request(f"Invalid path: {NUL_PROBLEM}")
