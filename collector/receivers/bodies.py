"""Request bodies as the client sent them.

The server runs aiohttp with `auto_decompress=False`: aiohttp would otherwise inflate gzip bodies
on the event loop, and the raw log would have to store (and fsync, and pipe to the mapping
processes) the decompressed bytes, several times more than the gzip the client sent. The OTLP
receiver keeps the compressed bytes, inflates them in a thread to check them, and persists them
as received (`collector/rawlog.py`).

Every other route gets its body inflated by `decompress_bodies` (middleware) before the handler
reads it, exactly as before. If a server is started without `auto_decompress=False`, aiohttp has
already inflated the body (`total_compressed_bytes` is set) and both paths see plain bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypedDict, TypeVar

from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from spyglass.collector.compression import INFLATABLE, InflatedTooLarge, InflateError, inflate


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


@web.middleware
async def decompress_bodies(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    encoding = compressed_encoding(request)
    if encoding is None or getattr(request.match_info.handler, _RAW, False):
        return await handler(request)
    if encoding not in INFLATABLE:
        raise web.HTTPUnsupportedMediaType(text=f"unsupported Content-Encoding {encoding!r}: use gzip, deflate or none")
    limit = body_limit(request)
    raw = await request.read()
    try:
        plain = await off_loop(inflate, raw, encoding, limit)
    except InflatedTooLarge:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=limit + 1) from None
    except InflateError as exc:
        raise web.HTTPBadRequest(text=f"cannot read body ({encoding}): {exc}") from None
    # What request.read()/json()/text() return from now on; aiohttp keeps no other copy.
    request._read_bytes = plain
    return await handler(request)
