"""API-key authentication for every public endpoint (HTTP Basic `pk:sk`, or a public key alone
where Langfuse allows it), with a short in-process cache so a hot path costs one dict lookup.

Revocation reaches a running process within `cache_seconds`; a key that fails is never cached.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from typing import Protocol

from aiohttp import web

from spyglass.collector.http.errors import ApiError
from spyglass.store.postgres.api_keys import AuthScope


class KeyVerifier(Protocol):
    async def verify(self, public_key: str, secret_key: str) -> AuthScope | None: ...
    async def find_public(self, public_key: str) -> AuthScope | None: ...


AUTH_SCOPE: web.RequestKey[AuthScope] = web.RequestKey("auth_scope", AuthScope)


class Authenticator:
    def __init__(self, keys: KeyVerifier, cache_seconds: float = 30.0, max_entries: int = 10_000) -> None:
        self._keys = keys
        self._ttl = cache_seconds
        self._max = max_entries
        self._cache: dict[bytes, tuple[AuthScope, float]] = {}

    def invalidate(self) -> None:
        self._cache.clear()

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
        now = time.monotonic()
        if hit is not None and hit[1] > now:
            scope = hit[0]
        else:
            scope = await self._resolve(header)
            if len(self._cache) >= self._max:
                self._cache.clear()
            self._cache[cache_key] = (scope, now + self._ttl)
        if scope.access_level == "scores" and not public_key_ok:
            raise ApiError(401, "Unauthorized: this endpoint needs the secret key (HTTP Basic public:secret)")
        return scope

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
