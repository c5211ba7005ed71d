"""Prompt management driven by the latest Langfuse Python SDK, as a user would call it."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.harness import Harness, ProjectKeys
from tests.prompts.support import Api, langfuse_client


async def _sdk(spyglass: Harness, keys: ProjectKeys, fn: Any) -> Any:
    def run() -> Any:
        lf = langfuse_client(spyglass, keys, tracing_enabled=False)
        try:
            return fn(lf)
        finally:
            lf.shutdown()

    return await asyncio.to_thread(run)


async def test_versions_labels_and_latest(spyglass: Harness, keys: ProjectKeys) -> None:
    def scenario(lf: Any) -> dict[str, Any]:
        v1 = lf.create_prompt(
            name="greeting", prompt="Hello {{name}}!", labels=["production"], config={"model": "gpt-4o"}
        )
        v2 = lf.create_prompt(name="greeting", prompt="Hi {{name}}", labels=["staging"], commit_message="shorter")
        return {
            "created": (v1.version, v2.version),
            "default": lf.get_prompt("greeting", cache_ttl_seconds=0),
            "staging": lf.get_prompt("greeting", label="staging", cache_ttl_seconds=0),
            "v1": lf.get_prompt("greeting", version=1, cache_ttl_seconds=0),
            "latest": lf.get_prompt("greeting", label="latest", cache_ttl_seconds=0),
        }

    got = await _sdk(spyglass, keys, scenario)
    assert got["created"] == (1, 2)
    # No label and no version means `production`.
    assert got["default"].version == 1
    assert got["default"].compile(name="Ada") == "Hello Ada!"
    assert got["default"].config == {"model": "gpt-4o"}
    assert got["staging"].version == 2
    assert got["staging"].commit_message == "shorter"
    assert got["v1"].prompt == "Hello {{name}}!"
    assert got["latest"].version == 2
    assert set(got["latest"].labels) == {"staging", "latest"}
    assert not got["default"].is_fallback


async def test_update_prompt_moves_the_label(spyglass: Harness, keys: ProjectKeys, api: Api) -> None:
    def scenario(lf: Any) -> tuple[int, int, list[str]]:
        lf.create_prompt(name="mover", prompt="one", labels=["production"])
        lf.create_prompt(name="mover", prompt="two")
        before = lf.get_prompt("mover", cache_ttl_seconds=0).version
        updated = lf.update_prompt(name="mover", version=2, new_labels=["production"])
        after = lf.get_prompt("mover", cache_ttl_seconds=0).version
        return before, after, updated.labels

    before, after, labels = await _sdk(spyglass, keys, scenario)
    assert (before, after) == (1, 2)
    assert set(labels) == {"production", "latest"}
    v1 = await api.get("/api/public/v2/prompts/mover", version=1)
    assert v1.body["labels"] == []


async def test_chat_prompt_in_a_folder_with_placeholders(spyglass: Harness, keys: ProjectKeys, api: Api) -> None:
    messages = [
        {"role": "system", "content": "You are {{persona}}."},
        {"type": "placeholder", "name": "history"},
        {"role": "user", "content": "{{question}}"},
    ]

    def scenario(lf: Any) -> Any:
        lf.create_prompt(name="team/support/chat", type="chat", prompt=messages, labels=["production"])
        return lf.get_prompt("team/support/chat", type="chat", cache_ttl_seconds=0)

    prompt = await _sdk(spyglass, keys, scenario)
    assert prompt.name == "team/support/chat"
    compiled = prompt.compile(
        persona="a pirate",
        question="Where is the treasure?",
        history=[{"role": "user", "content": "Ahoy"}, {"role": "assistant", "content": "Arr"}],
    )
    assert compiled == [
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": "Ahoy"},
        {"role": "assistant", "content": "Arr"},
        {"role": "user", "content": "Where is the treasure?"},
    ]
    # The folder name travels as one encoded path segment.
    raw = await api.get("/api/public/v2/prompts/team%2Fsupport%2Fchat")
    assert raw.status == 200 and raw.body["type"] == "chat" and raw.body["prompt"][1]["type"] == "placeholder"


async def test_missing_prompt_uses_the_fallback(spyglass: Harness, keys: ProjectKeys) -> None:
    def scenario(lf: Any) -> Any:
        return lf.get_prompt("does-not-exist", fallback="Fallback {{x}}", max_retries=0, cache_ttl_seconds=0)

    prompt = await _sdk(spyglass, keys, scenario)
    assert prompt.is_fallback
    assert prompt.compile(x="!") == "Fallback !"


async def test_client_cache_and_server_freshness(spyglass: Harness, keys: ProjectKeys, api: Api) -> None:
    """The SDK serves a cached prompt within its TTL; the server itself never serves stale data."""
    lf = langfuse_client(spyglass, keys, tracing_enabled=False)
    try:
        await asyncio.to_thread(lf.create_prompt, name="cached", prompt="first", labels=["production"])
        warm = await asyncio.to_thread(lf.get_prompt, "cached", cache_ttl_seconds=300)
        # A second writer (not this client) publishes a new production version.
        created = await api.post(
            "/api/public/v2/prompts", {"name": "cached", "prompt": "second", "labels": ["production"]}
        )
        assert created.status == 200 and created.body["version"] == 2
        cached = await asyncio.to_thread(lf.get_prompt, "cached", cache_ttl_seconds=300)
        fresh = await asyncio.to_thread(lf.get_prompt, "cached", cache_ttl_seconds=0)
    finally:
        await asyncio.to_thread(lf.shutdown)
    assert (warm.version, cached.version, fresh.version) == (1, 1, 2)
    direct = await api.get("/api/public/v2/prompts/cached")
    assert direct.body["version"] == 2 and direct.body["prompt"] == "second"
