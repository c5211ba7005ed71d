"""The merge-lock contract.

A worker that merges an update into the stored version of a trace, observation or score reads,
merges and writes; two workers doing that for the same entity at once would each write a merge
that lacks the other's update. Holding a lease on every entity key of a batch from the read until
the rows are committed makes those merges happen one after another.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

import msgspec


class Lease(msgspec.Struct, frozen=True):
    keys: tuple[str, ...]
    token: str


class MergeLocks(Protocol):
    # True when this process is the only writer of merged rows (the in-process queue has one
    # consumer): rows it cached are then always the newest, and no lock is needed.
    exclusive: bool

    async def acquire(self, keys: Collection[str], *, ttl: float, wait: float) -> Lease:
        """All of `keys` or none; waits up to `wait` seconds, then raises RetryableError. A lease
        expires after `ttl` seconds if it is never released (its holder died)."""
        ...

    async def release(self, lease: Lease) -> None:
        """Release what this lease still holds (keys taken over after expiry are left alone)."""
        ...

    async def close(self) -> None: ...


class LocalMergeLocks:
    """One consumer in one process: its batches are merged in order, nothing to lock."""

    exclusive = True

    async def acquire(self, keys: Collection[str], *, ttl: float, wait: float) -> Lease:
        return Lease(keys=(), token="")

    async def release(self, lease: Lease) -> None:
        return None

    async def close(self) -> None:
        return None
