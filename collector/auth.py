"""API-key authentication for every public endpoint (HTTP Basic `pk:sk`, or a public key alone
where Langfuse allows it), with a short in-process cache so a hot path costs one dict lookup.

Revocation reaches a running process within `cache_seconds`; a key that fails is never cached.
A key in steady use is looked up again in the background once three quarters of `cache_seconds`
have passed, so its requests do not wait on PostgreSQL every `cache_seconds` (a round trip of a
few ms, tens on a loaded host, in front of a request that otherwise takes ~10). Requests that
miss the cache together share one lookup.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

import msgspec
from aiohttp import web

from spyglass.collector.http.errors import ApiError
from spyglass.store.postgres.api_keys import AuthScope

log = logging.getLogger("spyglass.collector.auth")

# The share of `cache_seconds` after which a key in use is looked up again in the background.
REFRESH_AFTER = 0.75


class KeyVerifier(Protocol):
    async def verify(self, public_key: str, secret_key: str) -> AuthScope | None: ...
    async def find_public(self, public_key: str) -> AuthScope | None: ...


AUTH_SCOPE: web.RequestKey[AuthScope] = web.RequestKey("auth_scope", AuthScope)


class _Cached(msgspec.Struct, frozen=True):
    scope: AuthScope
    refresh_at: float
    expires_at: float


class Authenticator:
    def __init__(
        self,
        keys: KeyVerifier,
        cache_seconds: float = 30.0,
        max_entries: int = 10_000,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self._ttl = cache_seconds
        self._max = max_entries
        self._clock = clock
        self._cache: dict[bytes, _Cached] = {}
        self._lookups: dict[bytes, asyncio.Task[AuthScope]] = {}

    def invalidate(self) -> None:
        self._cache.clear()

    async def drain(self) -> None:
        """Wait for lookups under way (at shutdown, before the key store closes)."""
        while self._lookups:
            await asyncio.gather(*self._lookups.values(), return_exceptions=True)

    async def authenticate(self, request: web.Request, *, public_key_ok: bool = False) -> AuthScope:
        scope = await self.check(request.headers.get("Authorization"), public_key_ok=public_key_ok)
        request[AUTH_SCOPE] = scope
        return scope

    async def check(self, header: str | None, *, public_key_ok: bool = False) -> AuthScope:
        """Resolve an Authorization header value (HTTP or gRPC metadata) to a scope, or raise 401."""
        if not header:
            raise ApiError(401, "Unauthorized: no Authorization header (use HTTP Basic with public:secret key)")
        cache_key = hashlib.blake2b(header.encode("utf-8", "surrogateescape"), digest_size=20).digest()
        hit = self._cache.get(cache_key)
        now = self._clock()
        if hit is not None and now < hit.expires_at:
            if now >= hit.refresh_at and cache_key not in self._lookups:
                self._start_lookup(cache_key, header)
            scope = hit.scope
        else:
            task = self._lookups.get(cache_key) or self._start_lookup(cache_key, header)
            # Shielded: a client that hangs up must not cancel a lookup others may be waiting on.
            scope = await asyncio.shield(task)
        if scope.access_level == "scores" and not public_key_ok:
            raise ApiError(401, "Unauthorized: this endpoint needs the secret key (HTTP Basic public:secret)")
        return scope

    def _start_lookup(self, cache_key: bytes, header: str) -> asyncio.Task[AuthScope]:
        task = asyncio.ensure_future(self._lookup(cache_key, header))
        self._lookups[cache_key] = task
        task.add_done_callback(lambda done: self._finished(cache_key, done))
        return task

    async def _lookup(self, cache_key: bytes, header: str) -> AuthScope:
        # The entry's age counts from before the lookup, so a revocation that lands during it
        # still shows within cache_seconds.
        started = self._clock()
        try:
            scope = await self._resolve(header)
        except ApiError:
            self._cache.pop(cache_key, None)
            raise
        if self._ttl > 0:
            if len(self._cache) >= self._max:
                self._cache.clear()
            self._cache[cache_key] = _Cached(scope, started + self._ttl * REFRESH_AFTER, started + self._ttl)
        return scope

    def _finished(self, cache_key: bytes, task: asyncio.Task[AuthScope]) -> None:
        if self._lookups.get(cache_key) is task:
            del self._lookups[cache_key]
        if task.cancelled():
            return
        exc = task.exception()
        # Logged because a background refresh has no request to report to. A rejected key is
        # already dropped; any other failure (PostgreSQL unreachable) leaves the entry to expire,
        # and the request after that reports it.
        if exc is not None and not isinstance(exc, ApiError):
            log.warning("could not re-check an API key: %s", exc)

    async def _resolve(self, header: str) -> AuthScope:
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise ApiError(401, "Unauthorized: malformed Basic credentials") from None
            public, sep, secret = decoded.partition(":")
            if not sep or not public:
                raise ApiError(401, "Unauthorized: Basic credentials must be public_key:secret_key")
            if not secret:
                scope = await self._keys.find_public(public)
            else:
                scope = await self._keys.verify(public, secret)
        elif scheme == "bearer":
            scope = await self._keys.find_public(value.strip())
        else:
            raise ApiError(401, f"Unauthorized: unsupported authorization scheme {scheme!r}")
        if scope is None:
            raise ApiError(401, "Unauthorized: invalid API key (unknown, revoked or wrong secret)")
        return scope
