"""The legacy `langfuse<3` SDK cannot share the test venv, so it lives in its own venv under
`.venv/legacy-sdk` (created once, reused afterwards) and runs as a subprocess against the
in-process Spyglass. Scripts print one JSON document on stdout."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import Harness, ProjectKeys

LEGACY_VENV = Path(__file__).resolve().parents[2] / ".venv" / "legacy-sdk"
_PYTHON = LEGACY_VENV / "bin" / "python"


def _usable() -> bool:
    return _PYTHON.exists() and any(LEGACY_VENV.glob("lib/python*/site-packages/langfuse/__init__.py"))


def _create() -> None:
    import subprocess

    subprocess.run([sys.executable, "-m", "venv", "--clear", str(LEGACY_VENV)], check=True, timeout=300)
    subprocess.run(
        [str(_PYTHON), "-m", "pip", "install", "--quiet", "langfuse<3"],
        check=True,
        timeout=600,
        stdout=subprocess.DEVNULL,
    )


@pytest.fixture(scope="session")
def legacy_python() -> Iterator[Path]:
    if not _usable():
        try:
            _create()
        except Exception as exc:  # no network / no pip: the legacy checks cannot run here
            pytest.skip(f"cannot create the langfuse<3 venv at {LEGACY_VENV}: {exc}")
    yield _PYTHON


async def run_legacy(python: Path, spyglass: Harness, keys: ProjectKeys, script: str, timeout: float = 120) -> Any:
    """Run `script` with the legacy SDK configured through its environment variables."""
    env = {
        **os.environ,
        "LANGFUSE_HOST": spyglass.url,
        "LANGFUSE_PUBLIC_KEY": keys.public_key,
        "LANGFUSE_SECRET_KEY": keys.secret_key,
    }
    # Async subprocess: the server under test runs on this event loop and must keep serving.
    proc = await asyncio.create_subprocess_exec(
        str(python), "-c", script, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode == 0, f"legacy script failed ({proc.returncode}):\n{err.decode()[-4000:]}"
    return json.loads(out.decode().strip().splitlines()[-1])
