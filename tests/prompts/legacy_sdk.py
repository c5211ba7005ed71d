"""The legacy `langfuse<3` SDK cannot share the test venv, so it lives in its own venv under
`.venv/legacy-sdk` (created once, reused afterwards) and runs as a subprocess against the
in-process Spyglass. Scripts print one JSON document on stdout."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import Harness, ProjectKeys
from tests.legacy_sdk import ensure_legacy_sdk


@pytest.fixture(scope="session")
def legacy_python() -> Iterator[Path]:
    """The legacy SDK's interpreter; the project installs it (tests/legacy_sdk.py)."""
    yield ensure_legacy_sdk()


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
