"""`spyglass serve` and the admin commands as a user runs them: real processes, real ports."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.harness import free_port, wait_until

pytestmark = pytest.mark.slow

SPYGLASS = [sys.executable, "-m", "spyglass.cli.main"]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGFUSE_", "SPYGLASS_", "CLICKHOUSE_"))}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_CONNECTION_STRING", None)
    env.update(
        {
            "SPYGLASS_DATA_DIR": str(data_dir),
            "PORT": str(free_port()),
            "SPYGLASS_COLLECTOR__GRPC_PORT": str(free_port()),
            "SPYGLASS_API__API_KEY_CACHE_SECONDS": "0",
        }
    )
    env.update(extra)
    return env


class Served:
    def __init__(self, proc: subprocess.Popen[str], env: dict[str, str], output: list[str]) -> None:
        self.proc = proc
        self.env = env
        self.output = output
        self.url = f"http://127.0.0.1:{env['PORT']}"


def _start(env: dict[str, str], timeout: float = 60.0) -> Served:
    proc = subprocess.Popen([*SPYGLASS, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if "ready:" in line:
            return Served(proc, env, lines)
    proc.kill()
    raise AssertionError("serve did not become ready:\n" + "\n".join(lines))


def _stop(served: Served) -> int:
    served.proc.send_signal(signal.SIGTERM)
    try:
        return served.proc.wait(timeout=60)
    finally:
        if served.proc.poll() is None:
            served.proc.kill()


def _admin(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SPYGLASS, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    env = _env(tmp_path_factory.mktemp("serve") / "data")
    s = _start(env)
    yield s
    if s.proc.poll() is None:
        _stop(s)


def _printed_keys(lines: list[str]) -> tuple[str, str]:
    text = "\n".join(lines)
    pk = re.search(r"LANGFUSE_PUBLIC_KEY=(pk-lf-\S+)", text)
    sk = re.search(r"LANGFUSE_SECRET_KEY=(sk-lf-\S+)", text)
    assert pk and sk, text
    return pk.group(1), sk.group(1)


def test_first_start_prints_a_working_key_pair(served: Served) -> None:
    pk, sk = _printed_keys(served.output)
    assert requests.get(f"{served.url}/api/public/health", timeout=5).json()["status"] == "OK"
    r = requests.get(f"{served.url}/api/public/projects", auth=(pk, sk), timeout=5)
    assert r.status_code == 200
    assert len(r.json()["data"]) == 1
    r = requests.get(f"{served.url}/api/public/projects", auth=(pk, "sk-lf-wrong"), timeout=5)
    assert r.status_code == 401 and "message" in r.json()


def test_admin_keys_while_serving(served: Served) -> None:
    pk, sk = _printed_keys(served.output)
    project_id = requests.get(f"{served.url}/api/public/projects", auth=(pk, sk), timeout=5).json()["data"][0]["id"]
    created = _admin(served.env, "keys", "create", project_id, "--note", "ci")
    assert created.returncode == 0, created.stderr
    new_pk = re.search(r"LANGFUSE_PUBLIC_KEY=(\S+)", created.stdout).group(1)  # type: ignore[union-attr]
    new_sk = re.search(r"LANGFUSE_SECRET_KEY=(\S+)", created.stdout).group(1)  # type: ignore[union-attr]
    # Piped, the secret is a whole line of its own: the last one, newline included.
    assert created.stdout.endswith(f"  LANGFUSE_SECRET_KEY={new_sk}\n"), repr(created.stdout)
    assert requests.get(f"{served.url}/api/public/projects", auth=(new_pk, new_sk), timeout=5).status_code == 200
    listed = _admin(served.env, "keys", "list", project_id)
    assert new_pk in listed.stdout and new_sk not in listed.stdout
    revoked = _admin(served.env, "keys", "revoke", new_pk)
    assert revoked.returncode == 0, revoked.stderr
    assert requests.get(f"{served.url}/api/public/projects", auth=(new_pk, new_sk), timeout=5).status_code == 401
    projects = _admin(served.env, "projects", "list")
    assert project_id in projects.stdout


def test_second_serve_on_the_same_data_dir_is_refused(served: Served) -> None:
    env = dict(served.env, PORT=str(free_port()), SPYGLASS_COLLECTOR__GRPC_PORT=str(free_port()))
    r = subprocess.run([*SPYGLASS, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "data dir" in err[0] and "in use" in err[0], r.stderr


def test_health_command_runs_a_real_query(served: Served) -> None:
    r = _admin(served.env, "health", "--url", served.url)
    assert r.returncode == 0 and "HTTP 200 OK" in r.stdout


def test_sigterm_stops_cleanly_and_restart_keeps_data(served: Served) -> None:
    pk, sk = _printed_keys(served.output)
    assert _stop(served) == 0
    pg_dir = Path(served.env["SPYGLASS_DATA_DIR"]) / "postgres"
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(pg_dir) not in ps, "the bundled PostgreSQL must stop with serve"
    again = _start(served.env)
    try:
        assert "LANGFUSE_SECRET_KEY" not in "\n".join(again.output), "init must not create a second key"
        assert requests.get(f"{again.url}/api/public/projects", auth=(pk, sk), timeout=5).status_code == 200
    finally:
        assert _stop(again) == 0


def test_ready_within_ten_seconds_on_a_warm_machine(tmp_path: Path) -> None:
    env = _env(tmp_path / "data")
    began = time.monotonic()
    s = _start(env)
    try:
        assert requests.get(f"{s.url}/api/public/health", timeout=5).status_code == 200
        # A generous bound: the target is 10 s; CI machines are shared.
        assert time.monotonic() - began < 30
    finally:
        _stop(s)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ({"SPYGLASS_CLICKHOUSE__URLL": "x"}, "clickhouse.urll: unknown key"),
        ({"PORT": "not-a-port"}, "api.port"),
    ],
)
def test_bad_config_is_one_line(tmp_path: Path, extra: dict[str, str], needle: str) -> None:
    r = subprocess.run([*SPYGLASS, "serve"], env=_env(tmp_path, **extra), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr


def test_unreachable_postgres_names_component_and_masks_password(tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, DATABASE_URL=f"postgresql://admin:hunter2@127.0.0.1:{port}/db", SALT="s")
    r = subprocess.run([*SPYGLASS, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.startswith("spyglass:")]
    assert len(lines) == 1 and "postgres" in lines[0] and "hunter2" not in r.stderr, r.stderr


def test_unreachable_redis_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, REDIS_CONNECTION_STRING=f"redis://:pw@127.0.0.1:{port}/0")
    r = subprocess.run([*SPYGLASS, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.startswith("spyglass:")]
    assert len(lines) == 1 and "redis" in lines[0].lower() and ":pw@" not in r.stderr, r.stderr


def _chdb(data_dir: Path, sql: str) -> list[list[object]]:
    script = (
        "import json, clickhouse_connect\n"
        f"c = clickhouse_connect.get_client(dsn='chdb://{data_dir / 'clickhouse'}')\n"
        f"print(json.dumps([list(r) for r in c.query({sql!r}).result_rows], default=str))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def test_replay_rebuilds_lost_rows_without_duplicates(tmp_path: Path) -> None:
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
    from opentelemetry.proto.trace.v1 import trace_pb2

    data_dir = tmp_path / "data"
    env = _env(data_dir)
    s = _start(env)
    pk, sk = _printed_keys(s.output)
    req = trace_service_pb2.ExportTraceServiceRequest()
    spans = req.resource_spans.add().scope_spans.add().spans
    now = time.time_ns()
    for i in range(25):
        spans.append(
            trace_pb2.Span(
                trace_id=b"\x07" * 16,
                span_id=(i + 1).to_bytes(8, "big"),
                name=f"s{i}",
                start_time_unix_nano=now,
                end_time_unix_nano=now + 10,
            )
        )
    r = requests.post(
        f"{s.url}/v1/traces",
        data=req.SerializeToString(),
        auth=(pk, sk),
        timeout=10,
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert r.status_code == 200

    def stored() -> int:
        got = requests.get(f"{s.url}/api/public/traces/{'07' * 16}", auth=(pk, sk), timeout=10)
        return len(got.json()["observations"]) if got.status_code == 200 else 0

    wait_until(lambda: stored() == 25, what="the 25 spans becoming readable")
    assert _stop(s) == 0
    assert _chdb(data_dir, "SELECT uniqExact(id) FROM observations") == [[25]]
    # Simulate losing the stored rows (a restore from an old backup, say).
    _chdb(data_dir, "TRUNCATE TABLE observations")
    for _ in range(2):
        out = _admin(env, "replay", "--since", "1h")
        assert out.returncode == 0, out.stderr
        assert "replayed 1 payloads" in out.stdout
    assert _chdb(data_dir, "SELECT uniqExact(id), count() FROM observations FINAL") == [[25, 25]]
    letters = _admin(env, "dead-letters", "list")
    assert letters.returncode == 0 and "no dead letters" in letters.stdout


def test_unreachable_s3_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    env = _env(
        tmp_path,
        LANGFUSE_S3_EVENT_UPLOAD_BUCKET="events",
        LANGFUSE_S3_EVENT_UPLOAD_ENDPOINT=f"http://127.0.0.1:{port}",
        LANGFUSE_S3_EVENT_UPLOAD_ACCESS_KEY_ID="k",
        LANGFUSE_S3_EVENT_UPLOAD_SECRET_ACCESS_KEY="secret-value",
        LANGFUSE_S3_EVENT_UPLOAD_FORCE_PATH_STYLE="true",
    )
    r = subprocess.run([*SPYGLASS, "serve"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.startswith("spyglass:")]
    assert len(lines) == 1 and "blob store 'events'" in lines[0] and str(port) in lines[0], r.stderr
    assert "secret-value" not in r.stderr


def test_unreachable_clickhouse_server_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    env = _env(tmp_path, CLICKHOUSE_URL=f"http://default:chpw@127.0.0.1:{port}")
    r = subprocess.run([*SPYGLASS, "serve"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.startswith("spyglass:")]
    assert len(lines) == 1 and "clickhouse" in lines[0] and str(port) in lines[0], r.stderr
    assert "chpw" not in r.stderr
