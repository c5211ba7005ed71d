"""Configuration value objects of the collector (receivers and worker)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec


class CollectorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # OTLP recommends capping bodies after decompression; 20 MiB is its suggested limit.
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 20 * 1024 * 1024
    # Legacy /api/public/ingestion body cap (Langfuse uses 4.5 MB; we are more generous).
    max_ingestion_body_bytes: int = 20 * 1024 * 1024
    grpc_enabled: bool = True
    grpc_host: str = "127.0.0.1"
    grpc_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 4317
    # Backpressure: past this many queued-but-unprocessed payloads, answer 429 / UNAVAILABLE.
    max_backlog: int = 2000
    retry_after_seconds: int = 2
    # Bytes of request bodies held at once, as received and as inflated, by every receiver
    # together: past it a request is answered 429 / UNAVAILABLE with Retry-After before its body
    # is read. 256 MiB is a dozen bodies at the 20 MiB limit, or ~1,000 typical exports of
    # 250 KB. A body larger than this still gets in when nothing else is in flight. 0: no limit.
    max_body_bytes_in_flight: Annotated[int, msgspec.Meta(ge=0)] = 256 * 1024 * 1024
    # Failed API-key checks allowed per client address and per public key: `auth_max_failures`
    # in a row, then one more every window / max_failures seconds (a leaky bucket); past that a
    # request whose key is not already cached is answered 429 with Retry-After, without asking
    # PostgreSQL. 0 turns the throttle off.
    auth_max_failures: Annotated[int, msgspec.Meta(ge=0)] = 20
    auth_failure_window_seconds: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    # A refused key pair is refused again from memory for this long (a key created meanwhile
    # has its own pair, so it is never refused by it; 0: off).
    auth_negative_cache_seconds: Annotated[float, msgspec.Meta(ge=0)] = 3.0
    # Reverse proxies in front of Spyglass that append the client's address to X-Forwarded-For;
    # 0 (the default) ignores that header and throttles by the connection's peer address.
    auth_trusted_proxies: Annotated[int, msgspec.Meta(ge=0)] = 0
    # Worker batching into ClickHouse: a batch is up to this many payloads (16,000 spans at the
    # SDKs' 500 per export). Fewer, larger inserts mean fewer parts to write and merge, and a
    # higher ingest rate than half as many (bench/RESULTS.md).
    batch_max_payloads: Annotated[int, msgspec.Meta(ge=1)] = 32
    # A batch short of that waits at most this long after its first payload for more. One second,
    # as upstream Langfuse flushes its ClickHouse writes: fewer, larger parts roughly halve the
    # CPU chDB spends merging at a steady light load (bench/RESULTS.md).
    batch_max_wait_ms: Annotated[int, msgspec.Meta(ge=1)] = 1000
    # Processes decoding, mapping, pricing and encoding OTLP payloads beside the worker (0: a
    # thread of its own). Two on a 2-core machine sustain more than one (bench/RESULTS.md), since
    # mapping costs about as much CPU as everything else together.
    worker_concurrency: int = 2
    # CPU priority of the mapping processes and of embedded ClickHouse's merges: "idle" lets
    # them run only on CPU time that answering requests does not want (collector/worker/
    # cpu_priority.py); "normal" shares the CPU equally.
    background_priority: Literal["idle", "normal"] = "idle"
    # A payload that fails this many times goes to the dead-letter area.
    max_attempts: int = 5
    # A payload taken by a worker that dies is handed to another worker after this long.
    visibility_timeout_seconds: float = 60.0
    # Scale-out (Redis queue) workers compare the raw log with what ClickHouse committed this
    # often and re-queue what Redis lost in a crash (one worker per project at a time; 0: off).
    reconcile_interval_seconds: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    # Only payloads received at least this long ago are checked: a younger one may still be on
    # its way from the collector to the queue.
    reconcile_grace_seconds: Annotated[float, msgspec.Meta(ge=0)] = 60.0
    # How far back the reconciler looks when Redis holds no watermark for a project (its first
    # pass, or Redis came back empty); after that it scans only from the watermark on.
    reconcile_lookback_hours: Annotated[float, msgspec.Meta(gt=0)] = 24.0

    @property
    def largest_body_bytes(self) -> int:
        """The larger of the two body limits: what any stored payload can inflate to."""
        return max(self.max_body_bytes, self.max_ingestion_body_bytes)
