"""The bytes of request bodies a process holds at once, across every receiver.

Backpressure on the queue (`Intake.check_capacity`) counts payloads already accepted; it cannot
see the bodies still arriving. Forty clients sending 19 MiB each at once are 760 MB in memory
before the first is queued. Every receiver therefore takes a `Lease` on one shared `ByteBudget`
before it reads a body: the declared Content-Length up front (or each chunk as it arrives when
there is none), then every inflated byte as it is produced. A request that does not fit is
answered like a full backlog, 429 / UNAVAILABLE with a retry hint, before its body is read.

Once every lease is given back after a burst, the freed memory is handed back to the operating
system (glibc's `malloc_trim`): bodies arrive as many chunks of up to 1 MiB, below glibc's
threshold for mappings of their own, and the heap they leave behind otherwise stays resident
(40 bodies of 19 MiB left ~250 MB of RSS behind without it, ~60 MB with it).

A body larger than the whole budget (a budget configured below the body limit) would otherwise
never fit: a lease that holds everything in flight may always grow, so such a body is served
whenever nothing else is in flight. Transient copies (joining a body's chunks, zlib's output
buffer) are not counted; the held bytes are.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
import time
from collections.abc import Callable

# Bytes leased since the last trim before an idle budget trims again, and at most how often.
TRIM_AFTER_BYTES = 64 * 1024 * 1024
TRIM_INTERVAL_SECONDS = 1.0


def _malloc_trim() -> Callable[[], object] | None:
    try:
        trim = ctypes.CDLL(None).malloc_trim  # the process's own C library
    except (OSError, AttributeError):
        return None  # not glibc: nothing to do
    trim.argtypes = [ctypes.c_size_t]
    return lambda: trim(0)


_TRIM = _malloc_trim()


class Overloaded(Exception):
    """No room for the request now; the receiver answers 429 / UNAVAILABLE with a retry hint."""

    def __init__(self, retry_after: int, reason: str = "ingestion backlog is full") -> None:
        super().__init__(f"{reason}; retry after {retry_after}s")
        self.retry_after = retry_after


class ByteBudget:
    """Shared by the receivers of one process. Inflation charges its output from the checking
    threads, so taking is thread-safe; giving back and waiting happen on the event loop."""

    def __init__(self, limit: int, retry_after: int) -> None:
        self.limit = limit  # 0: no limit (the leases still count)
        self.retry_after = retry_after
        self.used = 0
        self._lock = threading.Lock()
        self._waiters: set[asyncio.Future[None]] = set()
        self._taken_since_trim = 0
        self._trimmed_at = 0.0

    def lease(self) -> Lease:
        return Lease(self)

    def _refused(self) -> Overloaded:
        return Overloaded(
            self.retry_after, f"too many request bodies in flight (more than {self.limit} bytes received or inflated)"
        )

    def _take(self, lease: Lease, n: int) -> None:
        with self._lock:
            if self.limit and self.used + n > self.limit and self.used != lease.held:
                raise self._refused()
            self.used += n
            lease.held += n
            self._taken_since_trim += n

    def _give_back(self, lease: Lease, n: int) -> None:
        with self._lock:
            n = min(n, lease.held)
            self.used -= n
            lease.held -= n
            idle = self.used == 0
        if idle and n and self._taken_since_trim >= TRIM_AFTER_BYTES:
            self._trim()
        if n and self._waiters:
            waiters, self._waiters = self._waiters, set()
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _trim(self) -> None:
        now = time.monotonic()
        if _TRIM is None or now - self._trimmed_at < TRIM_INTERVAL_SECONDS:
            return
        self._trimmed_at = now
        self._taken_since_trim = 0
        # A thread of its own: a trim of a large heap takes milliseconds and holds no GIL.
        threading.Thread(target=_TRIM, name="malloc-trim", daemon=True).start()

    async def _take_waiting(self, lease: Lease, n: int, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                self._take(lease, n)
                return
            except Overloaded:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise
            waiter = loop.create_future()
            self._waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                raise self._refused() from None
            finally:
                self._waiters.discard(waiter)


class Lease:
    """One request's share of the budget; leaving the `with` block gives all of it back, on
    every path (answered, refused, failed, cancelled)."""

    def __init__(self, budget: ByteBudget) -> None:
        self._budget = budget
        self.held = 0

    def take(self, n: int) -> None:
        """Count `n` more bytes, or raise Overloaded (nothing counted) when they do not fit."""
        if n > 0:
            self._budget._take(self, n)

    async def take_waiting(self, n: int, timeout: float) -> None:
        """`take`, waiting up to `timeout` seconds for room to be given back."""
        if n > 0:
            await self._budget._take_waiting(self, n, timeout)

    def give_back(self, n: int) -> None:
        """Bytes this request no longer holds (a compressed chunk once inflated)."""
        if n > 0:
            self._budget._give_back(self, n)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self._budget._give_back(self, self.held)
