"""Spyglass installed as a user installs it, on nothing but Python: the wheel without extras, and
the README's own serve command in a fresh copy of the repository.

Each starts `spyglass serve` from an empty directory (defaults, free ports), sends one span as
OTLP/HTTP JSON with plain HTTP, reads it back through `/api/public/traces/{id}` and stops the
server with SIGTERM.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.harness import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# The interpreter the venvs are made from: the one this run's venv was made from.
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)


def readme_commands() -> dict[str, str]:
    """The one-line bash block under each "Run ..." heading of README.md."""
    text = (ROOT / "README.md").read_text()
    found: dict[str, str] = {}
    for heading, block in re.findall(r"\*\*(Run [^*]+)\*\*\s*\n+```bash\n(.*?)\n```", text, re.S):
        lines = [line for line in block.splitlines() if line.strip()]
        assert len(lines) == 1, f"the README's {heading!r} block must be one command: {block!r}"
        found[heading] = lines[0]
    return found


def _clean_env(port: int, grpc_port: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LANGFUSE_", "SPYGLASS_", "CLICKHOUSE_", "REDIS_", "VIRTUAL_ENV", "PYTHON"))
        and k not in ("DATABASE_URL", "HOSTNAME", "SALT", "ENCRYPTION_KEY")
    }
    env["PORT"] = str(port)
    env["SPYGLASS_COLLECTOR__GRPC_PORT"] = str(grpc_port)
    return env


class Server:
    """A `spyglass serve` started by a shell command in its own process group."""

    def __init__(self, command: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.url = f"http://127.0.0.1:{env['PORT']}"
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._ready = threading.Event()
        self._eof = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if " ready: " in line:
                self._ready.set()
        self._eof.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready.is_set():
            if self._eof.is_set() or time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"spyglass serve did not become ready:\n{self.output[-6000:]}")
            self._ready.wait(0.5)

    def serve_process(self) -> psutil.Process:
        """The `spyglass serve` process: the one started, or the shell's child running it."""
        top = psutil.Process(self.proc.pid)
        for candidate in (top, *top.children(recursive=True)):
            if "serve" in candidate.cmdline() and any("spyglass" in part for part in candidate.cmdline()):
                return candidate
        raise AssertionError(f"no spyglass serve process under pid {self.proc.pid}")

    def stop(self) -> None:
        """SIGTERM to the server alone, as a process manager sends it; everything it started must be
        gone within 60 s (their shared stdout reaches EOF)."""
        self.serve_process().send_signal(signal.SIGTERM)
        if not self._eof.wait(60):
            self.kill()
            raise AssertionError(f"spyglass serve did not stop on SIGTERM:\n{self.output[-4000:]}")
        self.proc.wait(10)

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _printed_keys(output: str) -> tuple[str, str]:
    pk = re.search(r"LANGFUSE_PUBLIC_KEY=(pk-lf-\S+)", output)
    sk = re.search(r"LANGFUSE_SECRET_KEY=(sk-lf-\S+)", output)
    assert pk and sk, f"the first start prints a key pair:\n{output}"
    return pk.group(1), sk.group(1)


def _request(url: str, auth: str, body: bytes | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Basic {auth}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def ingest_and_read_back(server: Server) -> None:
    pk, sk = _printed_keys(server.output)
    auth = base64.b64encode(f"{pk}:{sk}".encode()).decode()
    trace_id = secrets.token_hex(16)
    now = time.time_ns()
    span = {
        "traceId": trace_id,
        "spanId": secrets.token_hex(8),
        "name": "installed-span",
        "kind": 1,
        "startTimeUnixNano": str(now - 5_000_000),
        "endTimeUnixNano": str(now),
        "attributes": [{"key": "langfuse.trace.name", "value": {"stringValue": "from-a-fresh-install"}}],
    }
    body = json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span]}]}]}).encode()
    status, answer = _request(f"{server.url}/v1/traces", auth, body)
    assert status == 200, answer
    deadline = time.monotonic() + 60
    while True:
        status, answer = _request(f"{server.url}/api/public/traces/{trace_id}", auth)
        if status == 200:
            break
        assert status == 404, answer
        assert time.monotonic() < deadline, f"the span never became readable:\n{server.output[-4000:]}"
        time.sleep(0.5)
    trace = json.loads(answer)
    assert trace["id"] == trace_id
    assert trace["name"] == "from-a-fresh-install"
    assert [o["name"] for o in trace["observations"]] == ["installed-span"]


def _serve_and_check(command: list[str], cwd: Path, ready_timeout: float) -> None:
    server = Server(command, cwd, _clean_env(free_port(), free_port()))
    try:
        server.wait_ready(ready_timeout)
        ingest_and_read_back(server)
    except BaseException:
        server.kill()
        raise
    server.stop()
    # A clean drain exits 0 (a shell running it as its last command exits with its status).
    assert server.proc.returncode == 0, server.output[-4000:]
    assert "Traceback" not in server.output, server.output[-4000:]


def test_the_wheel_without_extras_serves_and_ingests(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("spyglass-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([BASE_PYTHON, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)], capture_output=True, text=True, timeout=600
    )
    assert install.returncode == 0, install.stderr[-4000:]
    # Nothing of the test extras came along: this is what a user gets.
    listed = subprocess.run([str(venv / "bin" / "pip"), "list"], capture_output=True, text=True, check=True).stdout
    assert "opentelemetry-exporter" not in listed and "pytest" not in listed
    empty = tmp_path / "empty"
    empty.mkdir()
    _serve_and_check([str(venv / "bin" / "spyglass"), "serve"], empty, ready_timeout=120)
    assert (empty / ".spyglass").is_dir(), "the default data directory is ./.spyglass"


def _fresh_copy(dest: Path) -> None:
    """What a fresh clone of this working tree holds: tracked and untracked, not ignored, files."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in filter(None, names):
        src = ROOT / os.fsdecode(raw)
        if not src.exists():  # deleted in the working tree
            continue
        target = dest / os.fsdecode(raw)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target, follow_symlinks=False)


def test_the_readme_commands_are_the_contract() -> None:
    commands = readme_commands()
    assert set(commands) == {"Run Spyglass", "Run the tests"}
    assert "spyglass serve" in commands["Run Spyglass"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands["Run the tests"] in ci.splitlines(), ".ci/run runs exactly the README's test command"


def test_the_readme_serve_command_works_in_a_fresh_clone(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    _fresh_copy(clone)
    assert not (clone / ".venv").exists()
    command = readme_commands()["Run Spyglass"]
    _serve_and_check(["bash", "-c", command], clone, ready_timeout=600)
