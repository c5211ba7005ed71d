"""Failed authentications, counted per client address and per public key, in bounded memory.

Without it a client can make every request a PostgreSQL lookup (2,000 wrong secrets in 3.6 s).
`FailureBuckets` is a leaky bucket per identity: a failure adds one, the bucket drains at
`limit / window` per second, and a full bucket refuses until it has drained by one. An identity
costs one float, and a table holds at most `max_entries` of them, the least recently failed
forgotten first, so an attacker rotating addresses or keys cannot grow it; the cost of that
is that a bucket among the oldest can be forgotten early. `NegativeCache` remembers refused
credentials for a few seconds the same way.

Identities are hashed to 16 bytes: a public key is whatever the client sent, of any length.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections.abc import Callable
from urllib.parse import unquote

DEFAULT_MAX_ENTRIES = 10_000


def identity(kind: bytes, value: str) -> bytes:
    return hashlib.blake2b(value.encode("utf-8", "surrogateescape"), digest_size=16, person=kind).digest()


class FailureBuckets:
    def __init__(
        self,
        limit: int,
        window: float,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit  # 0: never throttle
        self._interval = window / limit if limit else 0.0
        self._window = window
        self._max = max_entries
        self._clock = clock
        # identity -> when its bucket is empty again; insertion order = order of last failure
        self._empty_at: dict[bytes, float] = {}

    def __len__(self) -> int:
        return len(self._empty_at)

    def wait(self, ident: bytes) -> float:
        """Seconds until `ident` may fail again (0: now)."""
        empty_at = self._empty_at.get(ident)
        if empty_at is None:
            return 0.0
        now = self._clock()
        if empty_at <= now:
            del self._empty_at[ident]
            return 0.0
        # Full when one more failure would overflow the window.
        return max(0.0, empty_at - now - (self._window - self._interval))

    def charge(self, ident: bytes) -> None:
        if not self._limit:
            return
        now = self._clock()
        empty_at = self._empty_at.pop(ident, now)
        self._empty_at[ident] = max(empty_at, now) + self._interval
        while len(self._empty_at) > self._max:
            del self._empty_at[next(iter(self._empty_at))]

    def refund(self, ident: bytes) -> None:
        """Take back a charge (the attempt succeeded, or failed for another reason)."""
        empty_at = self._empty_at.get(ident)
        if empty_at is None:
            return
        empty_at -= self._interval
        if empty_at <= self._clock():
            del self._empty_at[ident]
        else:
            self._empty_at[ident] = empty_at


class NegativeCache:
    """Keys refused recently; each is remembered `ttl` seconds (0: nothing is)."""

    def __init__(
        self, ttl: float, *, max_entries: int = DEFAULT_MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._expires: dict[bytes, float] = {}

    def __len__(self) -> int:
        return len(self._expires)

    def __contains__(self, key: bytes) -> bool:
        expires = self._expires.get(key)
        if expires is None:
            return False
        if expires <= self._clock():
            del self._expires[key]
            return False
        return True

    def add(self, key: bytes) -> None:
        if self._ttl <= 0:
            return
        self._expires.pop(key, None)
        self._expires[key] = self._clock() + self._ttl
        while len(self._expires) > self._max:
            del self._expires[next(iter(self._expires))]

    def discard(self, key: bytes) -> None:
        self._expires.pop(key, None)


def retry_after(seconds: float) -> int:
    """A Retry-After value: whole seconds, at least one."""
    return max(1, math.ceil(seconds))


def client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: int) -> str:
    """The address to throttle by: the peer's, unless `trusted_proxies` proxies in front of us
    append to X-Forwarded-For, whose entry that many from the right is then the client (entries
    further left are whatever the client wrote). IPv6 addresses count per /64, what one host is
    usually given."""
    address = peer or ""
    if trusted_proxies and forwarded_for:
        hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
        if hops:
            address = hops[-min(trusted_proxies, len(hops))]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def grpc_peer_host(peer: str | None) -> str | None:
    """The host of a gRPC peer string: `ipv4:1.2.3.4:5`, `ipv6:[::1]:5` (percent-encoded by
    newer gRPC), or `unix:/path`."""
    if not peer:
        return None
    scheme, _, rest = unquote(peer).partition(":")
    if scheme == "ipv6" and rest.startswith("["):
        return rest[1 : rest.find("]")]
    if scheme == "ipv4":
        return rest.rpartition(":")[0]
    return peer
