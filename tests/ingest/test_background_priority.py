"""Background ingest work (mapping processes, chDB merges) runs at idle CPU priority, so the
requests being answered get the CPU first; `background_priority: normal` leaves it alone."""

from __future__ import annotations

import asyncio
import ctypes
import os
import threading
import time
import uuid
from collections.abc import Iterator

import psutil
import pytest

from spyglass.collector.worker.cpu_priority import CHDB_MERGE_THREADS, ThreadLowerer, lower_threads, thread_name
from spyglass.collector.worker.map_pool import PayloadMapper
from spyglass.store.clickhouse.client import ClickHouse

_PR_SET_NAME = 15


def _mapping_processes(lower: bool) -> list[int]:
    """Start a mapper with two processes; return their scheduling policies once warmed up."""
    before = {p.pid for p in psutil.Process().children()}
    mapper = PayloadMapper(2, lower=lower)
    try:
        for warmed in mapper.warm_up():
            warmed.result(timeout=60)  # each process runs its initializer before any task
        # Not multiprocessing's resource tracker, which spawning may start alongside.
        started = [
            p.pid for p in psutil.Process().children() if p.pid not in before and "spawn_main" in " ".join(p.cmdline())
        ]
        assert len(started) == 2
        deadline = time.monotonic() + 30
        if lower:
            # A process that took no warm-up task may still be in its initializer.
            while any(os.sched_getscheduler(pid) != os.SCHED_IDLE for pid in started):
                assert time.monotonic() < deadline, "a mapping process was never lowered"
                time.sleep(0.05)
        return [os.sched_getscheduler(pid) for pid in started]
    finally:
        mapper.close()


def test_mapping_processes_run_at_idle_priority() -> None:
    assert _mapping_processes(lower=True) == [os.SCHED_IDLE, os.SCHED_IDLE]


def test_mapping_processes_keep_normal_priority_when_asked() -> None:
    assert _mapping_processes(lower=False) == [os.SCHED_OTHER, os.SCHED_OTHER]


class _NamedThread:
    """A thread that names itself (as chDB's pool threads do) and waits."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tid = 0
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.prctl(_PR_SET_NAME, self.name.encode(), 0, 0, 0) == 0
        self.tid = threading.get_native_id()
        self._ready.set()
        self._stop.wait()

    def __enter__(self) -> _NamedThread:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def prefix() -> Iterator[str]:
    yield f"T{uuid.uuid4().hex[:6]}"  # thread names hold 15 bytes


def test_only_named_threads_are_lowered(prefix: str) -> None:
    with _NamedThread(f"{prefix}-merge") as merge, _NamedThread("other-work") as other:
        assert thread_name(merge.tid) == f"{prefix}-merge"
        assert lower_threads([prefix]) == [merge.tid]
        assert os.sched_getscheduler(merge.tid) == os.SCHED_IDLE
        assert os.sched_getscheduler(other.tid) == os.SCHED_OTHER
        assert lower_threads([prefix]) == []  # already lowered: nothing new


def test_threads_started_later_are_lowered_too(prefix: str) -> None:
    lowerer = ThreadLowerer([prefix], every=0.05).start()
    try:
        with _NamedThread(f"{prefix}-late") as late:
            deadline = time.monotonic() + 10
            while os.sched_getscheduler(late.tid) != os.SCHED_IDLE:
                assert time.monotonic() < deadline, "the late thread was never lowered"
                time.sleep(0.02)
    finally:
        lowerer.stop()
    assert os.sched_getscheduler(threading.get_native_id()) == os.SCHED_OTHER


async def test_chdb_merge_threads_are_found(ch: ClickHouse) -> None:
    """chDB names its merge threads as `CHDB_MERGE_THREADS` says (a chDB upgrade that renamed
    them would silently leave merges at normal priority)."""
    table = f"merge_probe_{uuid.uuid4().hex[:8]}"
    await ch.command(f"CREATE TABLE {table} (x UInt64) ENGINE = MergeTree ORDER BY x")
    try:
        for i in range(3):
            await ch.command(f"INSERT INTO {table} SELECT number + {i} FROM numbers(10)")
        await ch.command(f"OPTIMIZE TABLE {table} FINAL")
        named = {int(t): thread_name(int(t)) for t in os.listdir("/proc/self/task")}
        merges = [tid for tid, n in named.items() if n and n.startswith(CHDB_MERGE_THREADS)]
        assert merges, sorted(n for n in named.values() if n)
        # This process's worker (the test harness's) may have lowered some already.
        await asyncio.to_thread(lower_threads, CHDB_MERGE_THREADS)
        assert [os.sched_getscheduler(tid) for tid in merges] == [os.SCHED_IDLE] * len(merges)
        assert await ch.scalar(f"SELECT count() FROM {table}") == 30
    finally:
        await ch.command(f"DROP TABLE {table}")
