"""The raw log is the source of truth: find raw payloads that were acknowledged to a client but
never settled (committed to ClickHouse's ingest_log, or set aside as a dead letter), so that they
can be queued again.

One scan serves both queues: the in-process queue at worker start (`recover`: nothing survives a
crash there but the raw log; a watermark file remembers a receive time before which everything
is known to be committed, so a restart scans only the hours since then, with a margin for
payloads in flight), and the scale-out reconciler (reconciler.py), which runs it periodically
while Redis may have lost queued references.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Protocol

import msgspec

from spyglass.collector.rawlog import RawRef, encode_ref, hour_prefix, parse_key
from spyglass.store.blob import BlobStore
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.queue import Queue

log = logging.getLogger("spyglass.worker.recovery")

MARGIN_SECONDS = 120.0
# Raw keys looked up in ingest_log per query: a bounded result and a short query.
_CHUNK = 2000
# received_at is stored from a float: look a second beyond each end, the key range is exact.
_SLACK_US = 1_000_000


class DeadLetterKeys(Protocol):
    async def blob_keys(self, project_id: str, first_key: str, last_key: str) -> set[str]: ...


class Settled:
    """Which raw payloads are done with: committed (ingest_log) or dead-lettered."""

    def __init__(self, ch: ClickHouse, dead_letters: DeadLetterKeys) -> None:
        self._ch = ch
        self._dead = dead_letters

    async def keys(self, project_id: str, refs: Sequence[RawRef]) -> set[str]:
        """The settled ones among `refs`: one project's, in key (receive time) order."""
        first, last = refs[0], refs[-1]
        rows = await self._ch.rows(
            "SELECT DISTINCT blob_key FROM ingest_log WHERE project_id = {p:String} "
            "AND received_at >= fromUnixTimestamp64Micro({lo:Int64}) "
            "AND received_at <= fromUnixTimestamp64Micro({hi:Int64}) "
            "AND blob_key >= {a:String} AND blob_key <= {b:String}",
            {
                "p": project_id,
                "lo": first.received_us - _SLACK_US,
                "hi": last.received_us + _SLACK_US,
                "a": first.key,
                "b": last.key,
            },
        )
        settled = {r["blob_key"] for r in rows}
        # A dead letter never reaches ingest_log; queueing it again would only fail again.
        settled |= await self._dead.blob_keys(project_id, first.key, last.key)
        return settled


class ScanResult(msgspec.Struct):
    # In the raw log, but neither settled nor queued: to be queued again.
    lost: list[RawRef]
    # Receive time of the oldest payload not known settled (lost, or still queued), if any.
    open_from_us: int | None
    # Every payload received before this was looked at.
    scanned_to_us: int
    keys: int

    @property
    def watermark_us(self) -> int:
        """Everything received before this is settled."""
        return self.scanned_to_us if self.open_from_us is None else min(self.open_from_us, self.scanned_to_us)


async def scan_raw_log(
    blob: BlobStore,
    settled: Settled,
    project_id: str,
    *,
    from_us: int,
    to_us: int | None = None,
    queued: Collection[str] = (),
    max_lost: int | None = None,
    max_keys: int | None = None,
) -> ScanResult:
    """Compare one project's raw log, from `from_us` up to (not including) `to_us`, with what is
    settled. Keys in `queued` are pending on the queue: not lost, not settled either. The scan
    stops early (a chunk past the limit) after `max_lost` lost or `max_keys` keys."""
    # Keys sort by receive time (hour path, then zero-padded microseconds): start right there.
    start_after = f"{hour_prefix(project_id, from_us / 1e6)}{from_us:017d}"
    result = ScanResult(lost=[], open_from_us=None, scanned_to_us=from_us, keys=0)
    chunk: list[RawRef] = []

    async def check() -> None:
        done = await settled.keys(project_id, chunk)
        for ref in chunk:
            if ref.key in done:
                continue
            if ref.key not in queued:
                result.lost.append(ref)
            if result.open_from_us is None:
                result.open_from_us = ref.received_us
        result.keys += len(chunk)
        result.scanned_to_us = chunk[-1].received_us + 1
        chunk.clear()

    listing = blob.list(f"raw/{project_id}/", start_after=start_after)
    try:
        async for key in listing:
            ref = parse_key(key)
            if ref is None or ref.received_us < from_us:
                continue
            if to_us is not None and ref.received_us >= to_us:
                break
            chunk.append(ref)
            if len(chunk) >= _CHUNK:
                await check()
                if (max_lost is not None and len(result.lost) >= max_lost) or (
                    max_keys is not None and result.keys >= max_keys
                ):
                    return result
    finally:
        # Stopping early must not leave the listing's pages (or its thread) half read.
        aclose = getattr(listing, "aclose", None)
        if aclose is not None:
            await aclose()
    if chunk:
        await check()
    if to_us is not None:
        result.scanned_to_us = max(result.scanned_to_us, to_us)
    return result


class Watermark:
    """The in-process queue's watermark: a file in the data directory (one worker owns it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._written_at = 0.0

    def read(self) -> float | None:
        try:
            return float(self.path.read_text().strip())
        except (OSError, ValueError):
            return None

    def advance(self, epoch_seconds: float, *, every: float = 5.0) -> None:
        now = time.monotonic()
        if now - self._written_at < every:
            return
        self._written_at = now
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(f"{epoch_seconds:.6f}")
        os.replace(tmp, self.path)


async def recover(
    settled: Settled,
    blob: BlobStore,
    queue: Queue,
    project_ids: list[str],
    since: float,
) -> int:
    """Re-queue every raw payload received since `since` that is not settled (the in-process
    queue at start: empty, and nothing is in flight yet)."""
    start_us = int((since - MARGIN_SECONDS) * 1e6)
    requeued = 0
    for pid in project_ids:
        result = await scan_raw_log(blob, settled, pid, from_us=max(start_us, 0))
        if result.lost:
            await queue.put_many(encode_ref(ref) for ref in result.lost)
            requeued += len(result.lost)
    if requeued:
        log.warning("recovered %d raw payloads that were accepted but not yet committed", requeued)
    return requeued
