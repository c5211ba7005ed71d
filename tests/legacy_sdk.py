"""The legacy Langfuse Python SDK (v2) cannot share a venv with the current one, so tests run
it in its own venv under .venv/legacy-sdk, created once by the project and reused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv" / "legacy-sdk"
PYTHON = VENV / "bin" / "python"
SPEC = "langfuse>=2.60,<3"


def ensure_legacy_sdk() -> Path:
    marker = VENV / ".installed"
    if marker.exists() and marker.read_text() == SPEC:
        return PYTHON
    VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", SPEC], check=True, timeout=600)
    marker.write_text(SPEC)
    return PYTHON


def run_legacy(script: str, *, host: str, public_key: str, secret_key: str, timeout: float = 120) -> dict:
    """Run `script` with the v2 SDK; it must print one JSON object on its last stdout line."""
    python = ensure_legacy_sdk()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANGFUSE_")}
    env.update({"LANGFUSE_HOST": host, "LANGFUSE_PUBLIC_KEY": public_key, "LANGFUSE_SECRET_KEY": secret_key})
    result = subprocess.run(
        [str(python), "-c", textwrap.dedent(script)], env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise AssertionError(f"legacy SDK script failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])
