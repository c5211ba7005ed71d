"""The ingestion worker: queue → raw payloads → rows → ClickHouse → ack.

A queue entry is acknowledged only after every row made from its payload is committed, and
its ingest_log row after them, so a crash at any point leaves either nothing or a replayable
payload. One rule for errors, as the OTel Collector's consumererror: a PermanentError (undecodable,
missing or unreadable blob) makes a dead letter at once, with its reason; a RetryableError puts the
batch back with backoff, and so does an unknown error, each bounded by `max_attempts` (then a dead
letter) and logged. A payload whose rows the store refuses is first isolated from its batch; then
only the rows refused (found by bisecting the insert) are left out and recorded as a dead letter,
so one bad field never loses an acknowledged payload.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

import msgspec

from spyglass.collector.config import CollectorConfig
from spyglass.collector.rawlog import RawRef, decode_ref
from spyglass.collector.worker.encode import json_each_row
from spyglass.store.blob import BlobNotFound, BlobStore
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.rows import IngestLogRow, ObservationRow, ScoreRow, TraceRow
from spyglass.store.errors import PermanentError, RetryableError
from spyglass.store.locks import Lease
from spyglass.store.queue import Message, Queue

log = logging.getLogger("spyglass.worker")


class Payload(msgspec.Struct):
    ref: RawRef
    body: bytes
    message: Message


class Done(msgspec.Struct, frozen=True):
    """A payload whose rows are in the batch: acked once they are committed."""

    payload: Payload
    items: int
    rejected: int


class Failed(msgspec.Struct, frozen=True):
    """A payload that can never make rows: a dead letter with its reason."""

    payload: Payload
    reason: str


class EncodedRows(msgspec.Struct, frozen=True):
    """Rows encoded elsewhere (the mapping processes) as JSONEachRow chunks for one table."""

    table: str
    chunks: list[bytes]
    count: int


class ProjectIds(msgspec.Struct, frozen=True):
    """Observation ids of one project written through `encoded`, for the processor's cache."""

    project_id: str
    ids: list[str]


class ProjectDays(msgspec.Struct, frozen=True):
    """UTC days (since the epoch) of the start times of one project's encoded observations."""

    project_id: str
    days: list[int]


class RejectedScore(msgspec.Struct, frozen=True):
    """A score left out because it no longer fits its score config."""

    row: ScoreRow
    reason: str


class Prepared(msgspec.Struct):
    """Rows made from a batch of payloads, plus the payloads that failed for good."""

    traces: list[TraceRow] = []
    observations: list[ObservationRow] = []
    scores: list[ScoreRow] = []
    encoded: list[EncodedRows] = []
    encoded_ids: list[ProjectIds] = []
    encoded_days: list[ProjectDays] = []
    done: list[Done] = []
    failed: list[Failed] = []
    rejected_scores: list[RejectedScore] = []
    # The processor's merge lease on the entities these rows merged into (see store/locks),
    # held until the rows are committed.
    lease: Lease | None = None


class _Staged(msgspec.Struct):
    payloads: list[Payload]
    started: Any
    error: Exception | None


class Processor(Protocol):
    async def start(self, payloads: Sequence[Payload]) -> Any:
        """Begin the work that needs no stored state (mapping in other processes)."""
        ...

    async def finish(self, started: Any) -> Prepared:
        """Merge with stored state: only after every earlier batch is committed."""
        ...

    def committed(self, prepared: Prepared) -> None: ...

    async def release(self, prepared: Prepared) -> None:
        """Free what `finish` holds for the batch (called once its rows are committed or failed)."""
        ...


# (table, project id) → UTC days (days since the epoch) that committed rows fall on.
Written = dict[tuple[str, str], set[int]]
Announce = Callable[[Mapping[tuple[str, str], set[int]]], Awaitable[None]]

_DAY = 86400
# How long an idle worker waits on an empty queue before it looks at its stop flag again; kept
# apart from the batch wait so a long wait does not hold up a shutdown.
IDLE_POLL_SECONDS = 0.25


def written_days(prepared: Prepared) -> Written:
    """Which days of which tables and projects the batch's rows fall on (by the time each
    metrics view buckets them by)."""
    written: Written = {}
    for entry in prepared.encoded_days:
        if entry.days:
            written.setdefault(("observations", entry.project_id), set()).update(entry.days)
    for table, rows, moment in (
        ("traces", prepared.traces, "timestamp"),
        ("observations", prepared.observations, "start_time"),
        ("scores", prepared.scores, "timestamp"),
    ):
        for row in rows:
            written.setdefault((table, row.project_id), set()).add(int(getattr(row, moment) // _DAY))
    return written


class DeadLetters(Protocol):
    async def record(
        self, *, project_id: str | None, source: str, blob_key: str, reason: str, attempts: int
    ) -> None: ...


# Payloads a committed batch held: how well batching works under the load at hand.
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


class WorkerStats(msgspec.Struct):
    batches: int = 0
    # Committed batches by size: counts per BATCH_BUCKETS upper bound (their sum is `payloads`).
    batch_sizes: list[int] = msgspec.field(default_factory=lambda: [0] * (len(BATCH_BUCKETS) + 1))
    payloads: int = 0
    rows: int = 0
    retries: int = 0
    dead_letters: int = 0
    last_lag_seconds: float = 0.0


class IngestWorker:
    def __init__(
        self,
        *,
        ch: ClickHouse,
        blob: BlobStore,
        queue: Queue,
        processor: Processor,
        dead_letters: DeadLetters,
        cfg: CollectorConfig,
        announce: Announce | None = None,
        batch_messages: int | None = None,  # default: cfg.batch_max_payloads
    ) -> None:
        self._ch = ch
        self._blob = blob
        self._queue = queue
        self.processor = processor
        self._dead = dead_letters
        self._cfg = cfg
        self._batch_messages = batch_messages or cfg.batch_max_payloads
        self._announce = announce
        self._stopping = asyncio.Event()
        self.stats = WorkerStats()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Two batches in flight: while batch N is merged, inserted and acknowledged, batch
        N+1 is fetched and mapped by the mapping processes. Merging, committing and acking
        stay strictly in order (N+1 merges only after N is committed and cached)."""
        wait = self._cfg.batch_max_wait_ms / 1000
        inflight: asyncio.Task[None] | None = None
        try:
            while not self._stopping.is_set():
                try:
                    messages = await self._gather(wait)
                except RetryableError as exc:
                    log.warning("queue unavailable: %s", exc)
                    await asyncio.sleep(1)
                    continue
                except Exception:
                    # The loop is the only consumer in this process: it must outlive any surprise.
                    log.exception("reading the queue failed; retrying in 1 s")
                    await asyncio.sleep(1)
                    continue
                if not messages:
                    continue
                try:
                    staged = await self._stage(messages)
                except Exception:
                    # E.g. recording a dead letter failed: the messages come back after the
                    # visibility timeout.
                    log.exception("fetching a batch failed; its messages will be redelivered")
                    await asyncio.sleep(1)
                    continue
                if inflight is not None:
                    await inflight
                inflight = asyncio.create_task(self._complete_safely(staged), name="ingest-batch")
        finally:
            if inflight is not None:
                await inflight

    async def _gather(self, wait: float) -> list[Message]:
        """A batch: whatever is queued, and when that is less than a full batch, what else
        arrives within `wait` of the first message. At a light load each payload would otherwise
        be its own set of inserts, and every insert is a part that chDB writes and later merges."""
        messages = list(await self._queue.get_batch(self._batch_messages, timeout=min(wait, IDLE_POLL_SECONDS)))
        deadline = time.monotonic() + wait
        while messages and len(messages) < self._batch_messages and not self._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                more = await self._queue.get_batch(
                    self._batch_messages - len(messages), timeout=min(left, IDLE_POLL_SECONDS)
                )
            except RetryableError:
                break  # process what we hold; the next read reports the queue's trouble
            messages.extend(more)
        return messages

    async def drain(self, seconds: float) -> None:
        """Process what is already queued (used at shutdown), then stop."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            messages = await self._queue.get_batch(self._batch_messages, timeout=0.05)
            if not messages:
                break
            await self.handle(messages)
        self.stop()

    async def handle(self, messages: Sequence[Message]) -> None:
        """Process one batch from start to acknowledgement."""
        await self._complete(await self._stage(messages))

    async def _stage(self, messages: Sequence[Message]) -> _Staged:
        payloads, missing = await self._fetch(messages)
        for msg, ref, reason in missing:
            await self._dead_letter(msg, ref, reason)
        if not payloads:
            return _Staged([], None, None)
        try:
            return _Staged(payloads, await self.processor.start(payloads), None)
        except Exception as exc:
            return _Staged(payloads, None, exc)

    async def _complete_safely(self, staged: _Staged) -> None:
        try:
            await self._complete(staged)
        except Exception:
            # Unacknowledged messages come back after the visibility timeout.
            log.exception("handling a batch failed; its messages will be redelivered")
            await asyncio.sleep(1)

    async def _complete(self, staged: _Staged) -> None:
        payloads = staged.payloads
        if not payloads:
            return
        try:
            if staged.error is not None:
                raise staged.error
            prepared = await self.processor.finish(staged.started)
            try:
                # A lone payload is past isolating: a row the store refuses is left out, not its payload.
                await self._insert(prepared, salvage=len(payloads) == 1)
                self.processor.committed(prepared)
            finally:
                await self.processor.release(prepared)
        except RetryableError as exc:
            log.warning("batch of %d payloads will be retried: %s", len(payloads), exc)
            await self._retry([p.message for p in payloads], str(exc))
            return
        except Exception as exc:
            # PermanentError (a row the store refuses) or a bug in mapping: either way one payload
            # must not hold up the others. Retry them one by one to isolate it, then dead-letter it.
            if not isinstance(exc, PermanentError):
                log.exception("unexpected error while processing %d payloads", len(payloads))
            if len(payloads) > 1:
                for p in payloads:
                    await self.handle([p.message])
                return
            if isinstance(exc, PermanentError):
                await self._dead_letter(payloads[0].message, payloads[0].ref, str(exc))
            else:
                # Unknown: maybe transient, so retried like a RetryableError, as boundedly.
                await self._retry([payloads[0].message], f"{type(exc).__name__}: {exc}")
            return
        for f in prepared.failed:
            await self._dead_letter(f.payload.message, f.payload.ref, f.reason)
        await self._record_rejected_scores(prepared)
        await self._queue.ack([d.payload.message.id for d in prepared.done])
        self.stats.batches += 1
        self.stats.payloads += len(prepared.done)
        self.stats.batch_sizes[bisect.bisect_left(BATCH_BUCKETS, len(prepared.done))] += 1
        if prepared.done:
            newest = max(d.payload.ref.received_us for d in prepared.done)
            self.stats.last_lag_seconds = max(0.0, time.time() - newest / 1e6)

    async def _fetch(
        self, messages: Sequence[Message]
    ) -> tuple[list[Payload], list[tuple[Message, RawRef | None, str]]]:
        refs: list[tuple[Message, RawRef]] = []
        bad: list[tuple[Message, RawRef | None, str]] = []
        for m in messages:
            try:
                refs.append((m, decode_ref(m.body)))
            except msgspec.DecodeError:
                bad.append((m, None, "queue entry is not a raw-log reference"))
        results = await asyncio.gather(*(self._blob.get(r.key) for _, r in refs), return_exceptions=True)
        payloads = []
        for (m, ref), res in zip(refs, results, strict=True):
            if isinstance(res, BlobNotFound):
                bad.append((m, ref, f"raw payload {ref.key} is missing from the blob store"))
            elif isinstance(res, PermanentError):
                bad.append((m, ref, f"raw payload {ref.key} cannot be read: {res}"))
            elif isinstance(res, BaseException):
                # Retryable, or unknown and so treated as retryable: bounded by max_attempts.
                log.warning("reading raw payload %s failed (attempt %d): %s", ref.key, m.attempts, res)
                await self._retry([m], f"reading the raw payload failed: {type(res).__name__}: {res}")
            else:
                payloads.append(Payload(ref, res, m))
        return payloads, bad

    async def _insert(self, prepared: Prepared, *, salvage: bool = False) -> None:
        tables: list[tuple[str, Sequence[msgspec.Struct]]] = [
            ("traces", prepared.traces),
            ("observations", prepared.observations),
            ("scores", prepared.scores),
        ]
        encoded: dict[str, list[bytes]] = {}
        rows = 0
        for e in prepared.encoded:
            encoded.setdefault(e.table, []).extend(e.chunks)
            rows += e.count
        for table, items in tables:
            if items:
                encoded.setdefault(table, []).append(json_each_row(items))
                rows += len(items)
        refused: list[tuple[str, str]] = []
        for table, chunks in encoded.items():
            # One insert (one part) per table and batch.
            data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            if salvage:
                await self._insert_salvaging(table, data, refused)
            else:
                await self._ch.insert_json(table, data)
        if refused:
            await self._record_refused(prepared, refused, rows)
        now = time.time()
        log_rows = [
            IngestLogRow(
                blob_key=d.payload.ref.key,
                project_id=d.payload.ref.project_id,
                source=d.payload.ref.source,
                received_at=d.payload.ref.received_us / 1e6,
                processed_at=now,
                items=d.items,
                rejected=d.rejected,
            )
            for d in prepared.done
        ]
        if log_rows:
            await self._ch.insert_json("ingest_log", json_each_row(log_rows))
        self.stats.rows += rows
        if self._announce is not None:
            # Before the queue entries are acknowledged: if this fails or the process dies first,
            # the batch is delivered again, inserted again (the same versions) and announced.
            written = written_days(prepared)
            if written:
                await self._announce(written)

    async def _insert_salvaging(self, table: str, data: bytes, refused: list[tuple[str, str]]) -> None:
        """Insert `data`; when the store refuses it for good, bisect its lines and leave out only
        the rows it refuses (appended to `refused` as table and reason)."""
        try:
            await self._ch.insert_json(table, data)
            return
        except PermanentError as exc:
            lines = data.rstrip(b"\n").split(b"\n")
            if len(lines) == 1:
                refused.append((table, str(exc)))
                return
        # Halves keep the lines' order, so array rows still come before object rows.
        middle = len(lines) // 2
        for half in (lines[:middle], lines[middle:]):
            await self._insert_salvaging(table, b"\n".join(half) + b"\n", refused)

    async def _record_refused(self, prepared: Prepared, refused: list[tuple[str, str]], rows: int) -> None:
        payload = prepared.done[0].payload if prepared.done else None
        tables = sorted({table for table, _ in refused})
        reason = (
            f"{len(refused)} of {rows} rows refused by the store and left out ({', '.join(tables)}); "
            f"the payload's other rows are stored. First refusal: {refused[0][1]}"
        )
        log.error("payload %s: %s", payload.ref.key if payload else "?", reason)
        await self._dead.record(
            project_id=payload.ref.project_id if payload else None,
            source=payload.ref.source if payload else "unknown",
            blob_key=payload.ref.key if payload else "",
            reason=reason[:2000],
            attempts=payload.message.attempts if payload else 1,
        )
        self.stats.dead_letters += 1

    async def _record_rejected_scores(self, prepared: Prepared) -> None:
        """A dead letter per score left out, under the payload that last wrote it (its rows carry
        that payload's receive time as their version); the payload's other rows are stored."""
        if not prepared.rejected_scores:
            return
        by_version = {(d.payload.ref.project_id, d.payload.ref.received_us / 1e6): d.payload for d in prepared.done}
        for rejected in prepared.rejected_scores:
            row = rejected.row
            payload = by_version.get((row.project_id, row.event_ts))
            reason = f"score {row.id} left out (the payload's other rows are stored): {rejected.reason}"
            await self._dead.record(
                project_id=row.project_id,
                source=payload.ref.source if payload else "ingestion",
                blob_key=payload.ref.key if payload else "",
                reason=reason[:2000],
                attempts=payload.message.attempts if payload else 1,
            )
            self.stats.dead_letters += 1

    def _backoff(self, attempts: int) -> float:
        return min(30.0, 0.5 * (2 ** max(0, attempts - 1)))

    async def _retry(self, messages: Sequence[Message], reason: str) -> None:
        for m in messages:
            if m.attempts >= self._cfg.max_attempts:
                await self._dead_letter(m, _safe_ref(m), f"gave up after {m.attempts} attempts: {reason}")
            else:
                await self._queue.retry(m, self._backoff(m.attempts))
                self.stats.retries += 1

    async def _dead_letter(self, m: Message, ref: RawRef | None, reason: str) -> None:
        log.error("dead letter %s: %s", ref.key if ref else m.id, reason)
        await self._dead.record(
            project_id=ref.project_id if ref else None,
            source=ref.source if ref else "unknown",
            blob_key=ref.key if ref else "",
            reason=reason[:2000],
            attempts=m.attempts,
        )
        await self._queue.ack([m.id])
        self.stats.dead_letters += 1


def _safe_ref(m: Message) -> RawRef | None:
    try:
        return decode_ref(m.body)
    except msgspec.DecodeError:
        return None
