"""Request bodies as the client sent them.

The server runs aiohttp with `auto_decompress=False`: aiohttp would otherwise inflate gzip bodies
on the event loop, and the raw log would have to store (and fsync, and pipe to the mapping
processes) the decompressed bytes, several times more than the gzip the client sent. The OTLP
receiver keeps the compressed bytes, inflates them in a thread to check them, and persists them
as received (`collector/rawlog.py`).

Every other route gets its body inflated by `decompress_bodies` (middleware) before the handler
reads it, exactly as before. If a server is started without `auto_decompress=False`, aiohttp has
already inflated the body (`total_compressed_bytes` is set) and both paths see plain bytes.

Bodies are read under the process's byte budget (`collector/budget.py`): `read_body` takes the
Content-Length before reading (each chunk as it comes without one) and inflates as the chunks
arrive, so the compressed body is never held whole beside the inflated one. A body is never
cached on the request past its handler: aiohttp keeps the last request of a keep-alive
connection referenced while it waits for the next, and with it the body (40 idle connections
kept 800 MB of 19 MiB bodies).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypedDict, TypeVar

from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from spyglass.collector.budget import Lease, Overloaded
from spyglass.collector.compression import INFLATABLE, InflatedTooLarge, InflateError, Inflater
from spyglass.collector.http import INTAKE, ApiError


class RunnerKwargs(TypedDict):
    auto_decompress: bool


# AppRunner / web.Server keyword arguments the receivers expect.
RUNNER_KWARGS: RunnerKwargs = {"auto_decompress": False}

_RAW = "_spyglass_raw_body"

H = TypeVar("H", bound=Callable[..., Awaitable[web.StreamResponse]])
P = ParamSpec("P")
T = TypeVar("T")

# Inflating and checking bodies: CPU work kept off the event loop (zlib releases the GIL), in
# threads of its own so it never queues behind anything else in the default executor.
_checks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="body-check")


async def off_loop(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    if kwargs:
        raise TypeError("positional arguments only")
    return await asyncio.get_running_loop().run_in_executor(_checks, fn, *args)


def raw_body(handler: H) -> H:
    """Mark a handler that reads compressed bodies itself (the middleware leaves them alone)."""
    setattr(handler, _RAW, True)
    return handler


def payload_error(exc: RequestPayloadError) -> str:
    """Why the body could not be read: the HTTP parser's own message. aiohttp raises a
    RequestPayloadError (which has no `message`) made from the parser's error, kept as its cause."""
    cause = exc.__cause__
    return (cause.message if isinstance(cause, HttpProcessingError) else str(exc)).strip()


def body_limit(request: web.Request) -> int:
    """The body limit after decompression (the app's client_max_size)."""
    return request.app._client_max_size


def compressed_encoding(request: web.Request) -> str | None:
    """The content coding the body still carries, or None when it is plain bytes (no coding, or
    aiohttp inflated it already)."""
    encoding = request.headers.get(hdrs.CONTENT_ENCODING, "").strip().lower()
    # An empty body's reader (EmptyStreamReader) lacks the attribute: nothing to inflate anyway.
    if encoding in ("", "identity") or getattr(request.content, "total_compressed_bytes", None) is not None:
        return None
    return encoding


class BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"body exceeds {limit} bytes")
        self.limit = limit


class BodyUnreadable(Exception):
    """The body could not be read: malformed framing, or the client went away mid-body."""


# How much aiohttp buffers ahead of the reader (twice this): larger chunks mean fewer wake-ups
# for a large body, while a body that is refused never has more than this read ahead.
_READ_CHUNK = 1024 * 1024


async def read_body(request: web.Request, lease: Lease, limit: int, inflate_from: str | None = None) -> bytes:
    """The body, under `lease` (Overloaded when the budget has no room), at most `limit` bytes
    as received and, with `inflate_from` (a coding in INFLATABLE), as inflated. The inflated
    bytes are counted as they are produced; each compressed chunk is given back once inflated."""
    length = request.content_length
    if length is not None and length > limit:
        raise BodyTooLarge(limit)
    if length:
        lease.take(length)
    inflater = None if inflate_from is None else Inflater(inflate_from, limit, lease.take)
    content = request.content
    content.set_read_chunk_size(min(limit, _READ_CHUNK))
    body = io.BytesIO()
    if length and inflater is None:
        # One buffer of the final size, filled in place: `getvalue` then hands it over as the
        # bytes object without a copy (joining the chunks would hold the body twice), and a
        # single large allocation goes back to the system when freed.
        body.seek(length - 1)
        body.write(b"\0")
        body.seek(0)
    received = 0
    try:
        while chunk := await content.readany():
            received += len(chunk)
            if received > limit:
                raise BodyTooLarge(limit)
            if not length:
                lease.take(len(chunk))
            if inflater is None:
                body.write(chunk)
            else:
                await off_loop(inflater.feed, chunk)
                lease.give_back(len(chunk))
    except RequestPayloadError as exc:
        raise BodyUnreadable(payload_error(exc)) from None
    except ConnectionResetError:
        raise BodyUnreadable("the client closed the connection before the body ended") from None
    if inflater is not None:
        return await off_loop(inflater.finish)
    body.truncate(received)
    with body:
        return body.getvalue()


def _has_body(request: web.Request) -> bool:
    return bool(request.content_length) or (request.content_length is None and request.body_exists)


@web.middleware
async def decompress_bodies(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Inflate a compressed body before its handler reads it, and keep every body a handler
    reads under the byte budget (the raw-body receivers take their own lease)."""
    if getattr(request.match_info.handler, _RAW, False) or not _has_body(request):
        return await handler(request)
    encoding = compressed_encoding(request)
    if encoding is not None and encoding not in INFLATABLE:
        raise ApiError(415, f"unsupported Content-Encoding {encoding!r}: use gzip, deflate or none")
    limit = body_limit(request)
    with request.app[INTAKE].budget.lease() as lease:
        try:
            if encoding is not None:
                # What request.read()/json()/text() return; aiohttp keeps no other copy.
                request._read_bytes = await read_body(request, lease, limit, encoding)
            elif request.content_length:
                if request.content_length > limit:
                    raise BodyTooLarge(limit)
                # Read by the handler itself (after it authenticated the request): counted for
                # as long as the handler runs.
                lease.take(request.content_length)
        except Overloaded as exc:
            raise ApiError(429, str(exc), {"Retry-After": str(exc.retry_after)}) from None
        except (BodyTooLarge, InflatedTooLarge):
            raise ApiError(413, f"body exceeds {limit} bytes") from None
        except InflateError as exc:
            raise ApiError(400, f"cannot read body ({encoding}): {exc}") from None
        except BodyUnreadable as exc:
            raise ApiError(400, f"cannot read body: {exc}") from None
        try:
            return await handler(request)
        finally:
            request._read_bytes = None
