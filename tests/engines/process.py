"""Start a server in its own process group and make sure it (and anything it forks) goes away."""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_live: set[ServerProcess] = set()
_live_lock = threading.Lock()


def _die_with_parent() -> None:
    # Runs in the child between fork and exec. If the test runner is SIGKILLed (CI timeout),
    # atexit never runs; the kernel then sends SIGTERM to the server instead of leaking it.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ServerProcess:
    """A child process leading its own process group, stopped on stop(), on exit, or with its parent."""

    def __init__(self, name: str, argv: Sequence[str], *, log_path: Path, cwd: Path | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        # PDEATHSIG fires when the *thread* that forked exits, so only tie the server to the main
        # thread; a launcher called from a worker thread relies on stop()/atexit alone.
        preexec: Callable[[], None] | None = None
        if sys.platform == "linux" and threading.current_thread() is threading.main_thread():
            preexec = _die_with_parent
        with open(log_path, "ab") as log:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=preexec,
            )
        with _live_lock:
            _live.add(self)

    @property
    def pid(self) -> int:
        return self._popen.pid

    def alive(self) -> bool:
        return self._popen.poll() is None

    def log_tail(self, max_bytes: int = 4000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-max_bytes:].decode("utf-8", "replace")

    def stop(self, *, graceful: bool = True, timeout: float = 10.0) -> None:
        """SIGTERM (or SIGKILL when not graceful) the whole group, escalating to SIGKILL after `timeout`."""
        with _live_lock:
            _live.discard(self)
        if self._popen.poll() is None:
            self._signal_group(signal.SIGTERM if graceful else signal.SIGKILL)
            try:
                self._popen.wait(timeout=timeout if graceful else 5.0)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self._popen.wait(timeout=5.0)
        # The leader is gone; children it may have left in the group must go too.
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self._popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


@atexit.register
def _stop_all_left_over() -> None:
    with _live_lock:
        left = list(_live)
    for proc in left:
        proc.stop(graceful=False)
