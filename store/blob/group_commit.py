"""Group commit: many writers, one flush for all of them.

A flush (an fsync of a directory, an fdatasync of a journal segment) makes durable every change
that completed before it started. So a writer whose change is covered by a flush already running
waits for that one (or the next), never for one of its own: concurrent writers share flushes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path


class GroupCommit:
    """Flushes for one target; `sync` returns once a flush that started after the call did."""

    def __init__(self, flush: Callable[[], None]) -> None:
        self._flush = flush
        self._cond = threading.Condition()
        self._registered = 0  # changes registered so far (a sequence number)
        self._flushed = 0  # every change up to this number is durable
        self._running = False

    def sync(self) -> None:
        """Return once every change completed before this call is durable; raise the flush's
        OSError if the flush this caller led failed (waiters then lead one of their own)."""
        with self._cond:
            self._registered += 1
            mine = self._registered
            while self._flushed < mine:
                if self._running:
                    self._cond.wait()
                    continue
                self._running = True
                covers = self._registered
                self._cond.release()
                try:
                    self._flush()
                finally:
                    self._cond.acquire()
                    self._running = False
                    self._cond.notify_all()
                # Only reached when the flush succeeded.
                self._flushed = max(self._flushed, covers)


class DirSyncs:
    """One GroupCommit per directory while writers are syncing it; forgotten when idle."""

    def __init__(self, fsync_dir: Callable[[Path], None]) -> None:
        self._fsync_dir = fsync_dir
        self._lock = threading.Lock()
        self._dirs: dict[Path, GroupCommit] = {}
        self._users: dict[Path, int] = {}

    def sync(self, path: Path) -> None:
        """Return once every rename into `path` completed before this call is durable."""
        with self._lock:
            commit = self._dirs.get(path)
            if commit is None:
                commit = self._dirs[path] = GroupCommit(lambda: self._fsync_dir(path))
            self._users[path] = self._users.get(path, 0) + 1
        try:
            commit.sync()
        finally:
            with self._lock:
                self._users[path] -= 1
                if not self._users[path]:
                    del self._users[path], self._dirs[path]
