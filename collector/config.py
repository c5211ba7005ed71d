"""Configuration value objects of the collector (receivers and worker)."""

from __future__ import annotations

from typing import Literal

import msgspec


class CollectorConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # OTLP recommends capping bodies after decompression; 20 MiB is its suggested limit.
    max_body_bytes: int = 20 * 1024 * 1024
    # Legacy /api/public/ingestion body cap (Langfuse uses 4.5 MB; we are more generous).
    max_ingestion_body_bytes: int = 20 * 1024 * 1024
    grpc_enabled: bool = True
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 4317
    # Backpressure: past this many queued-but-unprocessed payloads, answer 429 / UNAVAILABLE.
    max_backlog: int = 2000
    retry_after_seconds: int = 2
    # Worker batching into ClickHouse: a batch is up to this many payloads (16,000 spans at the
    # SDKs' 500 per export). Fewer, larger inserts mean fewer parts to write and merge: 8.6-10.0k
    # against 7.5-8.9k spans/s with 16 (bench/RESULTS.md).
    batch_max_payloads: int = 32
    # A batch short of that waits at most this long after its first payload for more. One second,
    # as upstream Langfuse flushes its ClickHouse writes: at 1,000 spans/s, 4.0-6.9 % of a core
    # in chDB merges against 7.7-11.7 % at 250 ms (bench/RESULTS.md).
    batch_max_wait_ms: int = 1000
    # Processes decoding, mapping, pricing and encoding OTLP payloads beside the worker (0: a
    # thread of its own). Two on a 2-core machine: 8.1-8.8k spans/s sustained against 7.6k with
    # one (bench/RESULTS.md), since mapping costs about as much CPU as everything else together.
    worker_concurrency: int = 2
    # CPU priority of the mapping processes and of embedded ClickHouse's merges: "idle" lets
    # them run only on CPU time that answering requests does not want (collector/worker/
    # cpu_priority.py); "normal" shares the CPU equally.
    background_priority: Literal["idle", "normal"] = "idle"
    # A payload that fails this many times goes to the dead-letter area.
    max_attempts: int = 5
    # A payload taken by a worker that dies is handed to another worker after this long.
    visibility_timeout_seconds: float = 60.0

    @property
    def largest_body_bytes(self) -> int:
        """The larger of the two body limits: what any stored payload can inflate to."""
        return max(self.max_body_bytes, self.max_ingestion_body_bytes)
