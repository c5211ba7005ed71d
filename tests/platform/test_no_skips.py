"""The skip guard (tests/no_skips.py): a run with a skipped test fails and names it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.no_skips"]\n')
    (tmp_path / "test_sample.py").write_text(body)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_skipped_test_fails_the_run_and_is_named(tmp_path: Path) -> None:
    run = _run(
        tmp_path,
        "import pytest\n\ndef test_ok():\n    pass\n\ndef test_gone():\n    pytest.skip('chromium missing')\n",
    )
    assert run.returncode == 1, run.stdout
    assert "skipped: 1" in run.stdout
    assert "SKIPPED test_sample.py::test_gone: Skipped: chromium missing" in run.stdout


def test_a_run_without_skips_passes_and_says_so(tmp_path: Path) -> None:
    run = _run(tmp_path, "def test_ok():\n    pass\n")
    assert run.returncode == 0, run.stdout
    assert "skipped: 0" in run.stdout
