"""The Langfuse JS SDK (v5, `@langfuse/client` + `@langfuse/otel`), installed once with npm into
`.venv/js-sdk` and run with node against the in-process Spyglass. Without node or npm (and no
way to install them with apt), or when `npm install` fails, the tests fail: they never skip.
Scripts print one JSON document as their last stdout line."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import Harness, ProjectKeys
from tests.system_tools import NODE, NPM, require

JS_DIR = Path(__file__).resolve().parents[2] / ".venv" / "js-sdk"
_PACKAGES = ["@langfuse/client@5", "@langfuse/tracing@5", "@langfuse/otel@5", "@opentelemetry/sdk-trace-node@2"]


def _installed() -> bool:
    return all((JS_DIR / "node_modules" / "@langfuse" / p).is_dir() for p in ("client", "otel", "tracing"))


@pytest.fixture(scope="session")
def js_sdk(pytestconfig: pytest.Config) -> Iterator[Path]:
    # node (and npm, to install the SDK) are found on PATH or installed with apt; missing, the test fails.
    require(pytestconfig, NODE)
    if not _installed():
        (npm,) = require(pytestconfig, NPM)
        JS_DIR.mkdir(parents=True, exist_ok=True)
        package = JS_DIR / "package.json"
        if not package.exists():
            package.write_text('{"name": "spyglass-js-sdk-tests", "private": true, "type": "module"}\n')
        command = [npm, "install", "--no-audit", "--no-fund", *_PACKAGES]
        try:
            done = subprocess.run(command, cwd=JS_DIR, timeout=600, capture_output=True, text=True)
        except (subprocess.SubprocessError, OSError) as exc:
            partial = f"{getattr(exc, 'stdout', None) or ''}{getattr(exc, 'stderr', None) or ''}"[-6000:]
            pytest.fail(f"cannot install the JS SDK into {JS_DIR}: `{' '.join(command)}`: {exc}\n{partial}")
        if done.returncode != 0 or not _installed():
            output = (done.stdout + done.stderr)[-6000:]
            pytest.fail(
                f"cannot install the JS SDK into {JS_DIR}: `{' '.join(command)}` exited {done.returncode}:\n{output}"
            )
    yield JS_DIR


async def run_js(js_dir: Path, spyglass: Harness, keys: ProjectKeys, body: str, timeout: float = 120) -> Any:
    """Run an ES module whose top level sees `lf` (a LangfuseClient) and `config` (its keys)."""
    script = js_dir / f"run-{uuid.uuid4().hex}.mjs"
    config = {"publicKey": keys.public_key, "secretKey": keys.secret_key, "baseUrl": spyglass.url}
    script.write_text(
        'import { LangfuseClient } from "@langfuse/client";\n'
        f"const config = {json.dumps(config)};\n"
        "const lf = new LangfuseClient(config);\n" + body
    )
    try:
        # Async subprocess: the server under test runs on this event loop and must keep serving.
        proc = await asyncio.create_subprocess_exec(
            "node", str(script), cwd=js_dir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        script.unlink(missing_ok=True)
    assert proc.returncode == 0, f"node script failed ({proc.returncode}):\n{err.decode()[-4000:]}"
    return json.loads(out.decode().strip().splitlines()[-1])
