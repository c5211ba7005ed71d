"""`log_format: json`: every line on stderr is one JSON object, whatever the message holds."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from tests.platform.test_cli_serve import SPYGLASS, _env


def _parsed(stderr: str) -> list[dict[str, object]]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise AssertionError(f"not one JSON object: {line!r}\nall of stderr:\n{stderr}") from exc
    return out


def test_quotes_newlines_and_tracebacks_stay_one_object_a_line() -> None:
    script = textwrap.dedent(
        """
        import logging
        from spyglass.cli import logs
        logs.configure("info", "json")
        log = logging.getLogger("spyglass.test")
        log.warning('a "quoted" name and a \\\\ backslash')
        log.info("two\\nlines")
        try:
            1 / 0
        except ZeroDivisionError:
            log.exception("failed on %s", "x")
        log.debug("not at info")
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    records = _parsed(run.stderr)
    assert [r["msg"] for r in records] == ['a "quoted" name and a \\ backslash', "two\nlines", "failed on x"]
    assert all(r["logger"] == "spyglass.test" for r in records)
    assert [r["level"] for r in records] == ["WARNING", "INFO", "ERROR"]
    assert "ZeroDivisionError" in str(records[2]["exc"]) and "Traceback" in str(records[2]["exc"])
    assert str(records[0]["ts"]).endswith("Z")


@pytest.mark.slow
def test_a_json_serve_run_logs_only_json(tmp_path: Path) -> None:
    # A quote in the data directory reaches the startup log lines that name it.
    env = _env(tmp_path / 'da"ta', LANGFUSE_LOG_FORMAT="json", LANGFUSE_LOG_LEVEL="info")
    stderr_path = tmp_path / "stderr"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen([*SPYGLASS, "serve"], env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            assert proc.stdout is not None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if "ready:" in line or not line:
                    break
            assert "ready:" in line, stderr_path.read_text()
            # A wrong key and a malformed body: the server answers them and logs what it logs.
            url = f"http://127.0.0.1:{env['PORT']}"
            requests.get(f"{url}/api/public/projects", auth=("pk-lf-x", "sk-lf-y"), timeout=5)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    records = _parsed(stderr_path.read_text())
    assert any(r["logger"] == "spyglass.store.postgres.embedded" for r in records), records
