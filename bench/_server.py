"""Start a throwaway `spyglass serve` for a benchmark and watch its process."""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(
        self,
        data_dir: Path | None = None,
        extra_env: dict[str, str] | None = None,
        *,
        remove_data_dir: bool | None = None,
        code: Path | None = None,
    ) -> None:
        """`code`: run the Spyglass of that source tree (e.g. a `git worktree` of an earlier
        commit) instead of the installed one, with this venv's packages."""
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="spyglass-bench-"))
        # A throughput run leaves ~300 MB behind; a temporary dir goes when the server stops.
        self.remove_data_dir = data_dir is None if remove_data_dir is None else remove_data_dir
        self.port = free_port()
        self.grpc_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGFUSE_", "SPYGLASS_", "CLICKHOUSE_"))}
        env.update(
            {
                "SPYGLASS_DATA_DIR": str(self.data_dir),
                "PORT": str(self.port),
                "SPYGLASS_COLLECTOR__GRPC_PORT": str(self.grpc_port),
                "LANGFUSE_LOG_LEVEL": "warn",
            }
        )
        env.update(extra_env or {})
        self.code_dir = code
        self._farm: Path | None = None
        if code is not None:
            self._farm = source_farm(code)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(self._farm), env.get("PYTHONPATH", "")) if p)
        self.env = env
        self.public_key = ""
        self.secret_key = ""
        self.proc: subprocess.Popen[str] | None = None
        self.ready_seconds = 0.0
        self.output: list[str] = []

    def start(self) -> Server:
        began = time.monotonic()
        self.proc = subprocess.Popen(
            self.command(),
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line.rstrip())
            if m := re.search(r"LANGFUSE_PUBLIC_KEY=(\S+)", line):
                self.public_key = m.group(1)
            if m := re.search(r"LANGFUSE_SECRET_KEY=(\S+)", line):
                self.secret_key = m.group(1)
            if "ready:" in line:
                break
        else:
            raise RuntimeError("server did not start:\n" + "\n".join(self.output))
        self.ready_seconds = time.monotonic() - began
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def command(self) -> list[str]:
        return [sys.executable, "-m", "spyglass.cli.main", "serve"]

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line.rstrip())

    @property
    def auth_headers(self) -> dict[str, str]:
        """HTTP Basic with the project's keys (aiohttp 3.14 deprecates its BasicAuth helper)."""
        token = base64.b64encode(f"{self.public_key}:{self.secret_key}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    @property
    def process(self) -> psutil.Process:
        assert self.proc is not None
        return psutil.Process(self.proc.pid)

    def rss_mb(self) -> float:
        return self.process.memory_info().rss / 1e6

    def cpu_seconds(self) -> float:
        t = self.process.cpu_times()
        return t.user + t.system

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.remove_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        if self._farm is not None:
            shutil.rmtree(self._farm, ignore_errors=True)


# The installed package maps `spyglass.<layer>` to the repository's top-level folders.
_LAYERS = ("collector", "store", "query", "ui", "cli")


def source_farm(code: Path) -> Path:
    """A folder whose `spyglass/` links to `code`'s layers: first on PYTHONPATH, Python's path
    finder serves `spyglass.*` from there before the editable install's finder (which only
    answers what the path finder does not), in the server and its spawned mapping processes."""
    farm = Path(tempfile.mkdtemp(prefix="spyglass-code-"))
    (farm / "spyglass").mkdir()
    for layer in _LAYERS:
        if not (code / layer).is_dir():
            raise ValueError(f"{code} has no {layer}/: not a Spyglass source tree")
        (farm / "spyglass" / layer).symlink_to((code / layer).resolve(), target_is_directory=True)
    return farm


class FloorServer(Server):
    """`_floor_server.py` in place of Spyglass: the same load against the least a durable OTLP
    receiver must do (`work`: durable, check or http), so the host's share of a latency tail can
    be told from Spyglass's."""

    def __init__(self, work: str = "durable", extra_env: dict[str, str] | None = None) -> None:
        super().__init__(extra_env=extra_env)
        self.work = work

    def command(self) -> list[str]:
        script = str(Path(__file__).with_name("_floor_server.py"))
        return [sys.executable, script, str(self.port), str(self.data_dir), self.work]


class PeakRss:
    """Samples a process's RSS in the background and keeps the maximum."""

    def __init__(self, proc: psutil.Process, every: float = 0.2) -> None:
        self.proc = proc
        self.every = every
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss / 1e6)
            except psutil.Error:
                return
            time.sleep(self.every)


class HostCpu:
    """What the whole machine's CPUs did during a run, from /proc/stat (via psutil).

    `steal` is time the hypervisor gave this VM's CPUs to someone else: a run with a few percent
    of it had its latency tail set by the host, not by Spyglass, so each run prints it."""

    def __enter__(self) -> HostCpu:
        self._start = psutil.cpu_times()
        return self

    def __exit__(self, *exc: object) -> None:
        end = psutil.cpu_times()
        delta = {f: getattr(end, f) - getattr(self._start, f) for f in end._fields}
        total = sum(v for f, v in delta.items() if f not in ("guest", "guest_nice")) or 1.0
        self.steal = 100 * delta.get("steal", 0.0) / total
        self.iowait = 100 * delta.get("iowait", 0.0) / total
        self.busy = 100 - 100 * delta["idle"] / total - self.iowait - self.steal

    def __str__(self) -> str:
        return f"host CPU busy {self.busy:.0f} %, steal {self.steal:.1f} %, iowait {self.iowait:.1f} %"
