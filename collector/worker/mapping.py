"""Decoding and mapping OTLP payloads off the event loop.

Decode + map is pure CPU (~50-70 µs a span). Run inline it would hold the event loop for
seconds per batch, stalling every HTTP request of the same process; in a thread it would still
share one core with them. A small pool of spawned processes (spawned, never forked: the parent
holds chDB's threads) maps payloads in parallel and hands back MapResults.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

from spyglass.collector.otel import MapResult, OtlpDecodeError, decode_otlp, map_export

_CONTENT_TYPE = {"pb": "application/x-protobuf", "json": "application/json"}


def map_payload(body: bytes, fmt: str, project_id: str, received_at: float) -> MapResult | str:
    """A payload's rows, or the reason it can never be decoded (a str: errors cross processes
    as text, since exception classes with their own constructors do not unpickle reliably)."""
    try:
        return map_export(decode_otlp(body, _CONTENT_TYPE[fmt]), project_id=project_id, received_at=received_at)
    except OtlpDecodeError as exc:
        return str(exc)


class PayloadMapper:
    def __init__(self, processes: int) -> None:
        self._executor: Executor
        if processes > 0:
            self._executor = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
        else:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="otel-map")

    async def map(self, items: Sequence[tuple[bytes, str, str, float]]) -> list[MapResult | str]:
        loop = asyncio.get_running_loop()
        futures = [loop.run_in_executor(self._executor, map_payload, *item) for item in items]
        return list(await asyncio.gather(*futures))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
