"""Crash recovery for the in-process queue: re-queue raw payloads that were acknowledged to a
client but never committed, found by comparing the raw log with ClickHouse's ingest_log.

A watermark file remembers a receive time before which everything is known to be committed,
so a restart scans only the hours since then (with a margin for payloads in flight).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from spyglass.collector.rawlog import encode_ref, hour_prefix, parse_key
from spyglass.store.blob import BlobStore
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.queue import Queue

log = logging.getLogger("spyglass.worker.recovery")

MARGIN_SECONDS = 120.0


class Watermark:
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
    ch: ClickHouse,
    blob: BlobStore,
    queue: Queue,
    project_ids: list[str],
    since: float,
) -> int:
    """Re-queue every raw payload received since `since` that ingest_log does not know."""
    start = since - MARGIN_SECONDS
    requeued = 0
    for pid in project_ids:
        done_rows = await ch.rows(
            "SELECT DISTINCT blob_key FROM ingest_log WHERE project_id = {p:String} "
            "AND received_at >= fromUnixTimestamp64Micro({t:Int64})",
            {"p": pid, "t": int(start * 1e6)},
        )
        done = {r["blob_key"] for r in done_rows}
        first = hour_prefix(pid, start)
        async for key in blob.list(f"raw/{pid}/", start_after=first[:-1]):
            ref = parse_key(key)
            if ref is None or ref.received_us / 1e6 < start or key in done:
                continue
            await queue.put(encode_ref(ref))
            requeued += 1
    if requeued:
        log.warning("recovered %d raw payloads that were accepted but not yet committed", requeued)
    return requeued
