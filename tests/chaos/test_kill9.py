"""Crash safety: under steady load, kill -9 at random points, restart, and check that every span
that got a success answer is stored exactly once."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from tests.harness import free_port

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

SPYGLASS = [sys.executable, "-m", "spyglass.cli.main"]


class Load:
    """Sends OTLP requests of 20 fresh spans until stopped; remembers which were acknowledged."""

    def __init__(self, url: str, auth: tuple[str, str]) -> None:
        self.url = url
        self.auth = auth
        self.acked: set[str] = set()
        self.failed_requests = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._n = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _body(self) -> tuple[bytes, list[str]]:
        req = trace_service_pb2.ExportTraceServiceRequest()
        spans = req.resource_spans.add().scope_spans.add().spans
        ids = []
        now = time.time_ns()
        trace_id = os.urandom(16)
        for _ in range(20):
            self._n += 1
            span_id = self._n.to_bytes(8, "big")
            spans.append(
                trace_pb2.Span(
                    trace_id=trace_id,
                    span_id=span_id,
                    name="load",
                    start_time_unix_nano=now,
                    end_time_unix_nano=now + 1000,
                )
            )
            ids.append(span_id.hex())
        return req.SerializeToString(), ids

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            body, ids = self._body()
            try:
                r = session.post(
                    self.url,
                    data=body,
                    auth=self.auth,
                    timeout=5,
                    headers={"Content-Type": "application/x-protobuf"},
                )
            except requests.RequestException:
                self.failed_requests += 1
                time.sleep(0.05)
                continue
            if r.status_code == 200:
                self.acked.update(ids)
            else:
                self.failed_requests += 1
                time.sleep(0.05)


def _spawn(args: list[str], env: dict[str, str], ready: str = "ready:") -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen([*SPYGLASS, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 90
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if ready in line:
            # keep draining output so the pipe never blocks the server
            threading.Thread(target=lambda: [lines.append(x.rstrip()) for x in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
            return proc, lines
    proc.kill()
    raise AssertionError("process did not start:\n" + "\n".join(lines))


def _term(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(timeout=90) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def _stored_ids(clickhouse_dir: Path) -> dict[str, Any]:
    """Read the stopped server's chDB directory from a separate process (one engine per process)."""
    script = f"""
import json, clickhouse_connect
c = clickhouse_connect.get_client(dsn="chdb://{clickhouse_dir}")
rows = c.query(
    "SELECT id, count() FROM (SELECT id FROM observations FINAL WHERE is_deleted = 0) GROUP BY id"
).result_rows
latest = c.query(
    "SELECT count() FROM (SELECT id FROM observations ORDER BY event_ts DESC LIMIT 1 BY id)"
).result_rows
copies = max([r[1] for r in rows] or [0])
print(json.dumps({{"ids": [r[0] for r in rows], "max_copies": copies, "latest": latest[0][0]}}))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _base_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGFUSE_", "SPYGLASS_", "CLICKHOUSE_"))}
    for k in ("DATABASE_URL", "REDIS_CONNECTION_STRING", "SALT"):
        env.pop(k, None)
    env.update(
        {
            "SPYGLASS_DATA_DIR": str(data_dir),
            "PORT": str(free_port()),
            "SPYGLASS_COLLECTOR__GRPC_ENABLED": "false",
            "SPYGLASS_COLLECTOR__BATCH_MAX_WAIT_MS": "50",
        }
    )
    return env


def scaleout_env(data_dir: Path, pg_dsn: str, redis_url: str, prefix: str, s3_server: Any) -> dict[str, str]:
    """Collector and worker on PostgreSQL, Redis and S3 servers; chDB stays under `data_dir`."""
    env = _base_env(data_dir)
    env.update(
        {
            "DATABASE_URL": pg_dsn,
            "SALT": "chaos-salt",
            "REDIS_CONNECTION_STRING": redis_url,
            "REDIS_KEY_PREFIX": prefix,
            "LANGFUSE_S3_EVENT_UPLOAD_BUCKET": s3_server.create_bucket(),
            "LANGFUSE_S3_EVENT_UPLOAD_ENDPOINT": s3_server.endpoint,
            "LANGFUSE_S3_EVENT_UPLOAD_REGION": s3_server.region,
            "LANGFUSE_S3_EVENT_UPLOAD_ACCESS_KEY_ID": s3_server.access_key,
            "LANGFUSE_S3_EVENT_UPLOAD_SECRET_ACCESS_KEY": s3_server.secret_key,
            "LANGFUSE_S3_EVENT_UPLOAD_FORCE_PATH_STYLE": "true",
            # a redelivered message of a killed worker is reclaimed after this many seconds
            "SPYGLASS_COLLECTOR__VISIBILITY_TIMEOUT_SECONDS": "3",
        }
    )
    return env


def test_kill9_embedded_loses_nothing_acknowledged(tmp_path: Path) -> None:
    env = _base_env(tmp_path / "data")
    proc, lines = _spawn(["serve"], env)
    text = "\n".join(lines)
    pk = re.search(r"LANGFUSE_PUBLIC_KEY=(\S+)", text).group(1)  # type: ignore[union-attr]
    sk = re.search(r"LANGFUSE_SECRET_KEY=(\S+)", text).group(1)  # type: ignore[union-attr]
    load = Load(f"http://127.0.0.1:{env['PORT']}/v1/traces", (pk, sk))
    load.start()
    rng = random.Random(7)
    restarts: list[str] = []
    try:
        for _ in range(3):
            time.sleep(rng.uniform(0.8, 2.5))
            proc.kill()
            proc.wait()
            time.sleep(rng.uniform(0.0, 0.5))
            proc, restart_lines = _spawn(["serve"], env)
            restarts += restart_lines
        time.sleep(1.5)
    finally:
        load.stop()
    time.sleep(2.0)  # let the worker commit what it still holds; SIGTERM drains the rest
    _term(proc)
    assert len(load.acked) > 200, "the load generator must have been acknowledged many times"
    # The raw log's journal was in use: restarts replayed what the killed processes left (one
    # killed before its journal's first segment was ready would leave none), and the clean stop
    # left none.
    assert any("blob journal: replayed" in line for line in restarts), "\n".join(restarts)
    assert os.listdir(tmp_path / "data" / "blobs" / "events" / ".spyglass-journal") == []
    stored = _stored_ids(tmp_path / "data" / "clickhouse")
    missing = load.acked - set(stored["ids"])
    assert not missing, f"{len(missing)} acknowledged spans were lost"
    assert stored["max_copies"] == 1, "a span is visible more than once"
    assert stored["latest"] == len(stored["ids"])


def test_kill9_scaleout_worker_loses_nothing_acknowledged(
    tmp_path: Path, pg_server_dsn: str, redis_url: str, s3_server: Any
) -> None:
    env = scaleout_env(tmp_path / "data", pg_server_dsn, redis_url, f"chaos{os.getpid()}", s3_server)
    created = subprocess.run(
        [*SPYGLASS, "projects", "create", f"chaos-{os.getpid()}"], env=env, capture_output=True, text=True, timeout=120
    )
    assert created.returncode == 0, created.stderr
    pk = re.search(r"LANGFUSE_PUBLIC_KEY=(\S+)", created.stdout).group(1)  # type: ignore[union-attr]
    sk = re.search(r"LANGFUSE_SECRET_KEY=(\S+)", created.stdout).group(1)  # type: ignore[union-attr]
    collector, _ = _spawn(["collector"], env)
    worker: subprocess.Popen[str] | None = None
    try:
        worker_env = dict(env, PORT=str(free_port()))
        worker, worker_out = _spawn(["worker"], worker_env)
        load = Load(f"http://127.0.0.1:{env['PORT']}/v1/traces", (pk, sk))
        load.start()
        rng = random.Random(11)
        try:
            for _ in range(3):
                time.sleep(rng.uniform(0.8, 2.0))
                worker.kill()
                worker.wait()
                worker, worker_out = _spawn(["worker"], worker_env)
            time.sleep(1.0)
        finally:
            load.stop()
        _term(collector)
        # Everything acknowledged is in Redis or S3 now; wait for the (restarted) worker to finish it.
        import redis

        rc = redis.Redis.from_url(redis_url)
        prefix = env["REDIS_KEY_PREFIX"]
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            backlog = sum(rc.xlen(k) if rc.type(k) == b"stream" else rc.zcard(k) for k in rc.keys(f"{prefix}:queue:*"))
            if backlog == 0:
                break
            time.sleep(0.5)
        assert backlog == 0, f"worker did not catch up: {backlog} payloads left"
        _term(worker)
        assert len(load.acked) > 200
        assert load.failed_requests == 0, "the collector never went down, so every request must succeed"
        stored = _stored_ids(tmp_path / "data" / "clickhouse")
        missing = load.acked - set(stored["ids"])
        assert not missing, (
            f"{len(missing)} of {len(load.acked)} acknowledged spans were lost; stored {len(stored['ids'])}\n"
            + "\n".join(worker_out[-30:])
        )
        assert stored["max_copies"] == 1
    finally:
        # A failed assertion must not leave servers running (they would poll a stopped Redis).
        for proc in (collector, worker):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
