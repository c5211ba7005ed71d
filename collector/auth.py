"""API-key authentication for every public endpoint (HTTP Basic `pk:sk`, or a public key alone
where Langfuse allows it), with a short in-process cache so a hot path costs one dict lookup.

Revocation reaches a running process within `cache_seconds`. A key in steady use is looked up
again in the background once three quarters of `cache_seconds` have passed, so its requests do
not wait on PostgreSQL every `cache_seconds` (a round trip of a few ms, tens on a loaded host,
in front of a request that otherwise takes ~10). Requests that miss the cache together share
one lookup.

Failures are throttled (`collector/throttle.py`): a refused key pair is refused again from
memory for `AuthLimits.negative_cache_seconds`, and past `max_failures` refusals per client
address or per public key a request that the cache cannot answer is a 429 with Retry-After,
never a lookup. Only the cache of good keys answers a throttled client: a correct key it already
used still works (there is nothing to look up), a key it has not yet used waits like any other
attempt, since telling it from a guess would take the lookup the throttle is there to spare.
A lookup is charged to its client before it starts, so a burst of concurrent guesses is
bounded too, and refunded when the key turns out good.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import msgspec
from aiohttp import web

from spyglass.collector.config import CollectorConfig
from spyglass.collector.http import ApiError
from spyglass.collector.throttle import FailureBuckets, NegativeCache, client_address, identity, retry_after
from spyglass.store.postgres.api_keys import AuthScope

log = logging.getLogger("spyglass.collector.auth")

# The share of `cache_seconds` after which a key in use is looked up again in the background.
REFRESH_AFTER = 0.75


class KeyVerifier(Protocol):
    async def verify(self, public_key: str, secret_key: str) -> AuthScope | None: ...
    async def find_public(self, public_key: str) -> AuthScope | None: ...


AUTH_SCOPE: web.RequestKey[AuthScope] = web.RequestKey("auth_scope", AuthScope)


_INVALID = "Unauthorized: invalid API key (unknown, revoked or wrong secret)"


class AuthLimits(msgspec.Struct, frozen=True, kw_only=True):
    """How failed authentications are throttled (see CollectorConfig for each)."""

    max_failures: int = 20
    failure_window_seconds: float = 10.0
    negative_cache_seconds: float = 3.0
    trusted_proxies: int = 0
    max_entries: int = 10_000  # per table: addresses, public keys, refused pairs

    @classmethod
    def of(cls, cfg: CollectorConfig) -> AuthLimits:
        return cls(
            max_failures=cfg.auth_max_failures,
            failure_window_seconds=cfg.auth_failure_window_seconds,
            negative_cache_seconds=cfg.auth_negative_cache_seconds,
            trusted_proxies=cfg.auth_trusted_proxies,
        )


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
        limits: AuthLimits = AuthLimits(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self._ttl = cache_seconds
        self._max = max_entries
        self._clock = clock
        self._cache: dict[bytes, _Cached] = {}
        self._lookups: dict[bytes, asyncio.Task[AuthScope]] = {}
        self.limits = limits
        window = limits.failure_window_seconds
        self._by_address = FailureBuckets(limits.max_failures, window, **self._bounds())
        self._by_key = FailureBuckets(limits.max_failures, window, **self._bounds())
        self._refused = NegativeCache(limits.negative_cache_seconds, **self._bounds())

    def invalidate(self) -> None:
        """Forget every key checked, good or refused (after keys changed in this process)."""
        self._cache.clear()
        self._refused = NegativeCache(self.limits.negative_cache_seconds, **self._bounds())

    def _bounds(self) -> dict[str, Any]:
        return {"max_entries": self.limits.max_entries, "clock": self._clock}

    async def drain(self) -> None:
        """Wait for lookups under way (at shutdown, before the key store closes)."""
        while self._lookups:
            await asyncio.gather(*self._lookups.values(), return_exceptions=True)

    async def authenticate(self, request: web.Request, *, public_key_ok: bool = False) -> AuthScope:
        client = client_address(request.remote, request.headers.get("X-Forwarded-For"), self.limits.trusted_proxies)
        scope = await self.check(request.headers.get("Authorization"), public_key_ok=public_key_ok, client=client)
        request[AUTH_SCOPE] = scope
        return scope

    async def check(self, header: str | None, *, public_key_ok: bool = False, client: str | None = None) -> AuthScope:
        """Resolve an Authorization header value (HTTP or gRPC metadata) to a scope, or raise
        401 (429 when `client`, an address, or the key has failed too often of late)."""
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
            scope = await self._miss(cache_key, header, client)
        if scope.access_level == "scores" and not public_key_ok:
            raise ApiError(401, "Unauthorized: this endpoint needs the secret key (HTTP Basic public:secret)")
        return scope

    async def _miss(self, cache_key: bytes, header: str, client: str | None) -> AuthScope:
        charged = self._throttle(header, client)
        if cache_key in self._refused:
            self._charge(charged)
            raise ApiError(401, _INVALID)
        task = self._lookups.get(cache_key)
        if task is None:
            self._charge(charged)
            task = self._start_lookup(cache_key, header, charged)
            joined: list[tuple[FailureBuckets, bytes]] = []
        else:
            # Another request's lookup: it costs nothing more unless it fails.
            joined = charged
        try:
            # Shielded: a client that hangs up must not cancel a lookup others may be waiting on.
            return await asyncio.shield(task)
        except ApiError:
            self._charge(joined)
            raise

    def _throttle(self, header: str, client: str | None) -> list[tuple[FailureBuckets, bytes]]:
        """The buckets this attempt is charged to; raises 429 if one of them is full."""
        buckets = []
        if client is not None:
            buckets.append((self._by_address, identity(b"address", client)))
        public = _public_key(header)
        if public is not None:
            buckets.append((self._by_key, identity(b"public-key", public)))
        for table, ident in buckets:
            wait = table.wait(ident)
            if wait > 0:
                seconds = retry_after(wait)
                who = "from this client address" if table is self._by_address else "for this public key"
                raise ApiError(
                    429,
                    f"Too many failed authentication attempts {who}; retry after {seconds}s",
                    {"Retry-After": str(seconds)},
                )
        return buckets

    @staticmethod
    def _charge(buckets: list[tuple[FailureBuckets, bytes]]) -> None:
        for table, ident in buckets:
            table.charge(ident)

    def _start_lookup(
        self, cache_key: bytes, header: str, charged: list[tuple[FailureBuckets, bytes]] | None = None
    ) -> asyncio.Task[AuthScope]:
        task = asyncio.ensure_future(self._lookup(cache_key, header))
        self._lookups[cache_key] = task
        task.add_done_callback(lambda done: self._finished(cache_key, done, charged or []))
        return task

    async def _lookup(self, cache_key: bytes, header: str) -> AuthScope:
        # The entry's age counts from before the lookup, so a revocation that lands during it
        # still shows within cache_seconds.
        started = self._clock()
        try:
            scope = await self._resolve(header)
        except ApiError as exc:
            self._cache.pop(cache_key, None)
            if exc.message == _INVALID:  # PostgreSQL was asked; a malformed header costs nothing
                self._refused.add(cache_key)
            raise
        if self._ttl > 0:
            if len(self._cache) >= self._max:
                self._cache.clear()
            self._cache[cache_key] = _Cached(scope, started + self._ttl * REFRESH_AFTER, started + self._ttl)
        return scope

    def _finished(
        self, cache_key: bytes, task: asyncio.Task[AuthScope], charged: list[tuple[FailureBuckets, bytes]]
    ) -> None:
        if self._lookups.get(cache_key) is task:
            del self._lookups[cache_key]
        exc = None if task.cancelled() else task.exception()
        if not isinstance(exc, ApiError):
            # A good key, or a lookup that could not be made (PostgreSQL down): not a failure.
            for table, ident in charged:
                table.refund(ident)
        if task.cancelled():
            return
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
            raise ApiError(401, _INVALID)
        return scope


def _public_key(header: str) -> str | None:
    """The public key an Authorization header names, None if it names none (malformed)."""
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip() or None
    if scheme != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0] or None
