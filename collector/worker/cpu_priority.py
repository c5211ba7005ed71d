"""Background ingest work yields the CPU to requests being answered.

Mapping payloads and merging chDB parts need CPU, but nothing waits on them by the millisecond.
An export waiting for its acknowledgement does, and so does a read. When ingest saturates the
CPU, those would otherwise take turns with the background work on equal terms. With the
background work at idle priority, 100,000 spans sent as fast as 4 senders could were accepted
with request p99 54-83 ms against 101-117 ms, at the same throughput (3 + 3 interleaved runs,
bench/RESULTS.md). At 1,000 spans/s, with the CPU mostly free, it made no measurable difference.

On Linux the work runs under SCHED_IDLE: it gets the CPU only when no normal thread wants it,
and gives it up the moment one wakes. Elsewhere the mapping processes get nice 19, and chDB's
threads are left alone. Nothing needs to raise a lowered thread back, which would take privileges.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterable

log = logging.getLogger("spyglass.worker")

# chDB's merge threads (ClickHouse's MergeMutate background executor). Reads and inserts run in
# other pools and in the calling thread, and keep their normal priority.
CHDB_MERGE_THREADS = ("MergeMutate",)

_IDLE = getattr(os, "SCHED_IDLE", None) if sys.platform.startswith("linux") else None


def lower_current() -> None:
    """Lower the calling thread (Linux), or the whole process (elsewhere)."""
    try:
        if _IDLE is not None:
            os.sched_setscheduler(0, _IDLE, os.sched_param(0))  # 0: the calling thread
        else:
            os.nice(19 - os.nice(0))
    except OSError as exc:
        log.warning("could not lower the priority of background work: %s", exc)


def thread_name(tid: int) -> str | None:
    try:
        with open(f"/proc/self/task/{tid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None  # gone (or not Linux)


def lower_threads(prefixes: Iterable[str]) -> list[int]:
    """Lower this process's threads whose names start with one of `prefixes` and that are not
    lowered yet; return their ids. Linux only (an empty list elsewhere)."""
    if _IDLE is None:
        return []
    wanted = tuple(prefixes)
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return []
    lowered = []
    for tid in tids:
        name = thread_name(tid)
        if name is None or not name.startswith(wanted):
            continue
        try:
            if os.sched_getscheduler(tid) != _IDLE:
                os.sched_setscheduler(tid, _IDLE, os.sched_param(0))
                lowered.append(tid)
        except OSError:
            continue  # exited meanwhile
    return lowered


class ThreadLowerer:
    """Keeps named threads of this process lowered: chDB starts its pool threads when it first
    needs them and may replace idle ones, so the threads are looked for again every `every` s."""

    def __init__(self, prefixes: Iterable[str] = CHDB_MERGE_THREADS, every: float = 5.0) -> None:
        self._prefixes = tuple(prefixes)
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lower-background", daemon=True)

    def start(self) -> ThreadLowerer:
        if _IDLE is not None:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while True:
            lower_threads(self._prefixes)
            if self._stop.wait(self._every):
                return
