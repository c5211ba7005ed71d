"""Crash safety of the scale-out queue: kill -9 Redis (no persistence, so every queued reference
is gone) under steady OTLP load, start it again empty on the same port, keep loading, and check
that every span that got a success answer is stored exactly once. The raw log in S3 still holds
the lost payloads; the workers' reconciler must find and queue them again."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.chaos.test_kill9 import SPYGLASS, Load, _spawn, _stored_ids, _term, scaleout_env
from tests.engines.redis_server import RedisServer
from tests.harness import free_port

pytestmark = [pytest.mark.chaos, pytest.mark.slow]


def _backlog(client: redis.Redis, prefix: str) -> int:
    return int(client.xlen(f"{prefix}:queue:{{ingest}}:stream")) + int(
        client.zcard(f"{prefix}:queue:{{ingest}}:delayed")
    )


def _watermark_us(client: redis.Redis, prefix: str, project_id: str) -> int:
    raw = client.hget(f"{prefix}:reconciler:watermarks", project_id)
    return int(json.loads(raw)[0]) if raw else 0


def test_kill9_redis_under_load_loses_nothing_acknowledged(tmp_path: Path, pg_server_dsn: str, s3_server: Any) -> None:
    server = RedisServer()  # this test's own: it is killed
    prefix = f"chaos-redis{os.getpid()}"
    env = scaleout_env(tmp_path / "data", pg_server_dsn, server.url, prefix, s3_server)
    env.update(
        {
            # Short, so the test takes seconds: a pass every ~2 s over payloads older than 4 s.
            "SPYGLASS_COLLECTOR__RECONCILE_INTERVAL_SECONDS": "2",
            "SPYGLASS_COLLECTOR__RECONCILE_GRACE_SECONDS": "4",
        }
    )
    created = subprocess.run(
        [*SPYGLASS, "projects", "create", f"chaos-redis-{os.getpid()}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    project_id = re.search(r"^project .* \((\S+)\) in organization", created.stdout, re.M).group(1)  # type: ignore[union-attr]
    pk = re.search(r"LANGFUSE_PUBLIC_KEY=(\S+)", created.stdout).group(1)  # type: ignore[union-attr]
    sk = re.search(r"LANGFUSE_SECRET_KEY=(\S+)", created.stdout).group(1)  # type: ignore[union-attr]
    client = redis.Redis(host=server.host, port=server.port)
    collector: subprocess.Popen[str] | None = None
    worker: subprocess.Popen[str] | None = None
    try:
        collector, collector_out = _spawn(["collector"], env)
        worker, worker_out = _spawn(["worker"], dict(env, PORT=str(free_port())))
        load = Load(f"http://127.0.0.1:{env['PORT']}/v1/traces", (pk, sk))
        load.start()
        try:
            time.sleep(4.0)
            queued_at_kill = _backlog(client, prefix)
            server.kill()
            acked_at_kill = len(load.acked)
            time.sleep(2.0)  # the collector answers errors meanwhile: those spans do not count
            server.restart()
            acked_at_restart = len(load.acked)
            time.sleep(4.0)
        finally:
            load.stop()
        stopped_us = time.time_ns() // 1000
        # Every payload received before the load stopped is settled once the watermark passes it.
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if _backlog(client, prefix) == 0 and _watermark_us(client, prefix, project_id) >= stopped_us:
                break
            time.sleep(0.5)
        _term(collector)
        _term(worker)
        assert acked_at_kill > 200, "the load must have been acknowledged before the kill"
        assert len(load.acked) > acked_at_restart > 0, "the collector must accept again once Redis is back"
        assert load.failed_requests > 0, "requests while Redis was down must have failed"
        stored = _stored_ids(tmp_path / "data" / "clickhouse")
        missing = load.acked - set(stored["ids"])
        report = (
            f"{len(missing)} of {len(load.acked)} acknowledged spans were lost "
            f"({queued_at_kill} payloads queued at the kill)\n" + "\n".join(worker_out[-30:] + collector_out[-10:])
        )
        assert not missing, report
        assert stored["max_copies"] == 1, "a span is visible more than once"
        assert stored["latest"] == len(stored["ids"])
        # The kill really lost queued references, and the reconciler queued them again.
        requeued = [line for line in worker_out if "reconciler re-queued" in line]
        assert requeued, report
    finally:
        for proc in (collector, worker):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        client.close()
        server.stop()
