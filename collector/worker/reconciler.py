"""The scale-out crash reconciler: the raw log, not Redis, is the source of truth.

Redis may lose queued references: a crash without persistence, the last second of an
`appendfsync everysec` log, a failover to a replica that lagged. The payloads are still in the
events blob store. Every `reconcile_interval_seconds` a worker compares each project's raw log
since its watermark with what is settled (ingest_log, dead letters, recovery.py) and with what the
queue still holds, and queues again what is in neither.

Why that is safe:
- The queue is read first (every body not acked yet, in one MULTI), ClickHouse and the dead
  letters after. A payload leaves the queue only after its ingest_log row or its dead letter is
  written, so one missing from both reads was lost, unless it had not reached the queue yet:
  only payloads received `reconcile_grace_seconds` before the queue was read are looked at.
- A payload processed twice writes the same rows with the same versions (its receive time), so
  queueing one again that was not lost after all costs work, never a visible duplicate.
- One worker reconciles a project at a time (a lease in Redis), so several workers do not queue
  the same payloads at once; a pass another worker did within half an interval is not repeated.

Cost: a project's pass lists the raw log only from its watermark on (one S3 LIST when nothing is
new), and reads ingest_log only for the keys listed; a project with nothing new is looked at
half as often each time, down to once every 16 intervals.

The watermark (per project: a receive time before which everything is settled) lives in Redis
beside the queue, so whichever worker runs next carries on from it. It only moves past payloads
that are settled: one restored from an older snapshot is merely older. When Redis has none (a
first pass, or Redis came back empty) the scan looks back `reconcile_lookback_hours`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

import msgspec

from spyglass.collector.config import CollectorConfig
from spyglass.collector.rawlog import decode_ref, encode_ref
from spyglass.collector.worker.recovery import Settled, scan_raw_log
from spyglass.store.blob import BlobStore
from spyglass.store.config import RedisConfig
from spyglass.store.errors import RetryableError, mask_url
from spyglass.store.locks import MergeLocks
from spyglass.store.queue.redis_errors import redis_errors_mapped
from spyglass.store.queue.redis_stream import connect

log = logging.getLogger("spyglass.worker.reconciler")

# More messages than this on the queue: the workers are far behind, and reading them all in one
# transaction would stall Redis; reconciling waits until they catch up.
MAX_QUEUED = 50_000
# Raw keys one project's pass looks at; the next pass carries on from the watermark.
MAX_KEYS_PER_PASS = 100_000
# Long enough for a pass of MAX_KEYS_PER_PASS; a holder that died frees the project after it.
LEASE_TTL_SECONDS = 300.0


# A project whose raw log had nothing new is looked at half as often, down to once every 2**4
# intervals: each look is an S3 LIST request, and most projects are quiet most of the time.
QUIET_DOUBLINGS = 4


class Mark(msgspec.Struct, frozen=True, array_like=True):
    watermark_us: int  # every payload received before this is settled
    passed_at: float  # wall time of the pass that wrote it
    quiet: int = 0  # passes in a row that found no new raw payload


_encode_mark = msgspec.json.encode
_decode_mark = msgspec.json.Decoder(Mark).decode


class RedisWatermarks:
    """Per-project watermarks in one Redis hash: `{key_prefix}:reconciler:watermarks`."""

    def __init__(self, cfg: RedisConfig) -> None:
        if cfg.url is None:
            raise ValueError("RedisWatermarks needs cfg.url")
        self.url = mask_url(cfg.url)
        self.component = "reconciler watermarks (redis)"
        self.key = f"{cfg.key_prefix}:reconciler:watermarks"
        self._redis = connect(cfg.url)

    async def get(self, project_id: str) -> Mark | None:
        with redis_errors_mapped(self.component, self.url):
            raw = await self._redis.hget(self.key, project_id)
        if raw is None:
            return None
        try:
            return _decode_mark(raw)
        except msgspec.DecodeError:
            return None  # unreadable: treated as missing, i.e. the lookback

    async def set(self, project_id: str, mark: Mark) -> None:
        with redis_errors_mapped(self.component, self.url):
            await self._redis.hset(self.key, project_id, _encode_mark(mark))

    async def close(self) -> None:
        await self._redis.aclose()


class Watermarks(Protocol):
    async def get(self, project_id: str) -> Mark | None: ...

    async def set(self, project_id: str, mark: Mark) -> None: ...


class InspectableQueue(Protocol):
    async def pending_bodies(self, limit: int) -> list[bytes] | None: ...

    async def put_many(self, bodies: Iterable[bytes]) -> list[str]: ...


class Reconciler:
    def __init__(
        self,
        *,
        blob: BlobStore,
        settled: Settled,
        queue: InspectableQueue,
        locks: MergeLocks,
        watermarks: Watermarks,
        projects: Callable[[], Awaitable[list[str]]],
        cfg: CollectorConfig,
    ) -> None:
        self._blob = blob
        self._settled = settled
        self._queue = queue
        self._locks = locks
        self._marks = watermarks
        self._projects = projects
        self._interval = cfg.reconcile_interval_seconds
        self._grace = cfg.reconcile_grace_seconds
        self._lookback = cfg.reconcile_lookback_hours * 3600
        # Queued again per pass at most: a Redis that lost a full backlog gets it back in one
        # pass, and a pass never holds the collectors in backpressure for longer than that.
        self._budget = cfg.max_backlog

    async def run(self) -> None:
        """Reconcile every interval until cancelled; a failed pass is tried again next interval."""
        while True:
            # Jitter: workers started together do not all come at once.
            await asyncio.sleep(self._interval * random.uniform(0.8, 1.2))
            try:
                await self.reconcile()
            except RetryableError as exc:
                log.warning("reconciler: %s; next pass in %.0f s", exc, self._interval)
            except Exception:
                log.exception("reconciler pass failed; next pass in %.0f s", self._interval)

    async def reconcile(self) -> int:
        """One pass over every project; returns how many raw payloads were queued again."""
        bodies = await self._queue.pending_bodies(MAX_QUEUED)
        if bodies is None:
            log.info("reconciler: more than %d payloads queued; waiting for the workers to catch up", MAX_QUEUED)
            return 0
        now = time.time()
        cutoff_us = int((now - self._grace) * 1e6)
        queued: set[str] = set()
        for body in bodies:
            try:
                queued.add(decode_ref(body).key)
            except msgspec.DecodeError:
                continue  # not a raw-log reference: the worker dead-letters it
        total = 0
        unmarked: list[str] = []
        for pid in await self._projects():
            if total >= self._budget:
                break
            try:
                total += await self._project(pid, now, cutoff_us, queued, self._budget - total, unmarked)
            except RetryableError:
                raise  # a store is unreachable: the other projects would fail alike
            except Exception:
                # E.g. a key the store refuses: this project must not stop the others' passes.
                log.exception("reconciler: project %s failed; it is tried again next pass", pid)
        if unmarked:
            log.info(
                "reconciler: no watermark in Redis for %d projects (a first pass, or Redis lost its data); "
                "scanned the last %.1f hours of their raw log",
                len(unmarked),
                self._lookback / 3600,
            )
        return total

    async def _project(
        self, pid: str, now: float, cutoff_us: int, queued: set[str], budget: int, unmarked: list[str]
    ) -> int:
        if not self._due(await self._marks.get(pid), now):
            return 0
        try:
            lease = await self._locks.acquire([f"reconcile:{pid}"], ttl=LEASE_TTL_SECONDS, wait=0)
        except RetryableError:
            return 0  # another worker is at it (Redis being down fails the next read instead)
        try:
            mark = await self._marks.get(pid)  # it may have moved while we waited for the lease
            if not self._due(mark, now):
                return 0
            if mark is None:
                unmarked.append(pid)
                from_us = int((now - self._lookback) * 1e6)
            else:
                from_us = mark.watermark_us
            if from_us >= cutoff_us:
                return 0
            result = await scan_raw_log(
                self._blob,
                self._settled,
                pid,
                from_us=from_us,
                to_us=cutoff_us,
                queued=queued,
                max_lost=budget,
                max_keys=MAX_KEYS_PER_PASS,
            )
            if result.lost:
                await self._queue.put_many(encode_ref(ref) for ref in result.lost)
                log.warning(
                    "reconciler re-queued %d raw payloads of project %s that were acknowledged but "
                    "never committed (received %s to %s; %d raw keys checked)",
                    len(result.lost),
                    pid,
                    _when(result.lost[0].received_us),
                    _when(result.lost[-1].received_us),
                    result.keys,
                )
            quiet = 0 if result.keys or mark is None else mark.quiet + 1
            await self._marks.set(pid, Mark(max(result.watermark_us, from_us), time.time(), quiet))
            return len(result.lost)
        finally:
            await self._locks.release(lease)

    def _due(self, mark: Mark | None, now: float) -> bool:
        """Not passed over recently (by any worker), allowing for a quiet project's longer wait."""
        if mark is None:
            return True
        wait = self._interval * 2 ** min(mark.quiet, QUIET_DOUBLINGS)
        return now - mark.passed_at >= wait - self._interval / 2


def _when(us: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(us / 1e6))
