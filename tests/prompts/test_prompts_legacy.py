"""Prompts through the legacy Python SDK (`langfuse<3`, REST only)."""

from __future__ import annotations

from pathlib import Path

from tests.harness import Harness, ProjectKeys
from tests.prompts.legacy_sdk import legacy_python, run_legacy  # noqa: F401
from tests.prompts.support import Api

SCRIPT = r"""
import json
from langfuse import Langfuse

lf = Langfuse()
lf.create_prompt(name="legacy", prompt="Hello {{who}}", labels=["production"], config={"t": 0.1})
lf.create_prompt(name="legacy", prompt="Hey {{who}}", labels=["staging"])
lf.create_prompt(
    name="legacy/chat",
    type="chat",
    prompt=[{"role": "system", "content": "Be {{style}}"}, {"role": "user", "content": "{{q}}"}],
    labels=["production"],
)
default = lf.get_prompt("legacy", cache_ttl_seconds=0)
staging = lf.get_prompt("legacy", label="staging", cache_ttl_seconds=0)
chat = lf.get_prompt("legacy/chat", type="chat", version=1, cache_ttl_seconds=0)
fallback = lf.get_prompt("legacy-missing", fallback="fb", max_retries=1, cache_ttl_seconds=0)
print(json.dumps({
    "default": [default.version, default.compile(who="you"), default.config],
    "staging": [staging.version, staging.compile(who="me")],
    "chat": chat.compile(style="brief", q="why?"),
    "fallback": [fallback.is_fallback, fallback.prompt],
}))
"""


async def test_legacy_sdk_prompts(legacy_python: Path, spyglass: Harness, keys: ProjectKeys, api: Api) -> None:  # noqa: F811
    got = await run_legacy(legacy_python, spyglass, keys, SCRIPT)
    assert got["default"] == [1, "Hello you", {"t": 0.1}]
    assert got["staging"] == [2, "Hey me"]
    assert got["chat"] == [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "why?"}]
    assert got["fallback"] == [True, "fb"]
    # v2 sends `"type": "text"` explicitly; the stored prompt must still be text.
    assert (await api.get("/api/public/v2/prompts/legacy")).body["type"] == "text"
