"""OTLP log payloads are in the raw log like traces: `spyglass replay` brings their events back."""

from __future__ import annotations

import time
from pathlib import Path

import requests
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from tests.harness import wait_until
from tests.platform.test_cli_serve import _admin, _chdb, _env, _printed_keys, _start, _stop


def test_replay_rebuilds_log_events_without_duplicates(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir)
    served = _start(env)
    public_key, secret_key = _printed_keys(served.output)
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    now = time.time_ns()
    for i in range(7):
        records.append(
            LogRecord(
                time_unix_nano=now + i,
                trace_id=b"\x09" * 16,
                span_id=(i + 1).to_bytes(8, "big"),
                event_name="app.step",
                body=AnyValue(string_value=f"step {i}"),
            )
        )
    resp = requests.post(
        f"{served.url}/v1/logs",
        data=request.SerializeToString(),
        auth=(public_key, secret_key),
        timeout=10,
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert resp.status_code == 200, resp.text

    def stored() -> int:
        url, params = f"{served.url}/api/public/observations", {"traceId": "09" * 16, "type": "EVENT", "limit": 50}
        got = requests.get(url, params=params, auth=(public_key, secret_key), timeout=10)
        return len(got.json()["data"]) if got.status_code == 200 else 0

    wait_until(lambda: stored() == 7, what="the 7 log events becoming readable")
    assert _stop(served) == 0
    events = "SELECT uniqExact(id), count() FROM observations FINAL WHERE type = 'EVENT'"
    assert _chdb(data_dir, events) == [[7, 7]]
    _chdb(data_dir, "TRUNCATE TABLE observations")
    for _ in range(2):
        out = _admin(env, "replay", "--since", "1h")
        assert out.returncode == 0, out.stderr
        assert "replayed 1 payloads" in out.stdout
    # The same ids again: replaying twice leaves one version of each event.
    assert _chdb(data_dir, events) == [[7, 7]]
