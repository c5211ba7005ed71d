"""Prompt building blocks without a server: validation, reference parsing, resolution, caches."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from spyglass.collector.http import ApiError
from spyglass.query.prompts.cache import LocalPromptCache, RedisPromptCache
from spyglass.query.prompts.dependencies import find_tags, resolve
from spyglass.query.prompts.validation import parse_create, validate_labels
from spyglass.store.postgres.prompts_repo import DependencyRef, PromptRow

_T = datetime(2024, 1, 1, tzinfo=UTC)


def _row(name: str, prompt: Any, version: int = 1, kind: str = "text", labels: list[str] | None = None) -> PromptRow:
    return PromptRow(
        id=f"{name}-{version}",
        project_id="p",
        created_by="API",
        prompt=prompt,
        name=name,
        version=version,
        type=kind,
        config={},
        tags=[],
        labels=labels or [],
        created_at=_T,
        updated_at=_T,
    )


def test_create_infers_type_and_defaults() -> None:
    text = parse_create({"name": "a/b", "prompt": "hi"})
    assert (text.type, text.config, text.labels, text.tags) == ("text", {}, [], None)
    chat = parse_create({"name": "c", "prompt": [{"role": "user", "content": "x", "type": "chatmessage"}]})
    assert chat.type == "chat"
    dedup = parse_create({"name": "d", "prompt": "x", "labels": ["a", "a", "latest"], "tags": ["t", "t"]})
    assert dedup.labels == ["a", "latest"] and dedup.tags == ["t"]


@pytest.mark.parametrize("name", ["", "/lead", "trail/", "a//b", "x" * 256, "a|b"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_create({"name": name, "prompt": "x"})
    assert err.value.status_code == 400


def test_label_rules() -> None:
    assert validate_labels(["prod-a", "v1.2", "x_y"], field="labels", allow_latest=False) == ["prod-a", "v1.2", "x_y"]
    for bad in (["UPPER"], ["has space"], ["x" * 37], ["latest"]):
        with pytest.raises(ApiError):
            validate_labels(bad, field="newLabels", allow_latest=False)


def test_tag_parsing_accepts_only_well_formed_references() -> None:
    tags = find_tags(
        "a @@@langfusePrompt:name=x|version=2@@@ b @@@langfusePrompt:name=y|label=prod@@@ "
        "c @@@langfusePrompt:version=2|name=z@@@ d @@@langfusePrompt:name=w|version=two@@@ "
        "e @@@langfusePrompt:name=v|label=a|extra=1@@@ f @@@langfusePrompt:name=x|version=2@@@"
    )
    assert [t.ref for t in tags] == [DependencyRef("x", child_version=2), DependencyRef("y", child_label="prod")]


async def test_resolution_escapes_text_into_chat_json() -> None:
    child = _row("child", 'He said "hi"\nthen left', labels=["production"])
    parent = _row(
        "parent", [{"role": "system", "content": "<@@@langfusePrompt:name=child|label=production@@@>"}], kind="chat"
    )

    async def load(name: str, version: int | None, label: str | None) -> PromptRow | None:
        return child if name == "child" and label == "production" else None

    result = await resolve(parent, load)
    assert result.prompt == [{"role": "system", "content": '<He said "hi"\nthen left>'}]
    assert result.graph == {
        "root": {"name": "parent", "version": 1, "id": "parent-1"},
        "dependencies": {"parent-1": [{"id": "child-1", "name": "child", "version": 1}]},
    }


async def test_resolution_refuses_self_reference_through_another_version() -> None:
    older = _row("me", "old", version=1)
    newer = _row("me", "new @@@langfusePrompt:name=me|version=1@@@", version=2)

    async def load(name: str, version: int | None, label: str | None) -> PromptRow | None:
        return older

    with pytest.raises(ApiError) as err:
        await resolve(newer, load)
    assert "Circular" in err.value.message


async def test_local_cache_drops_values_read_before_a_write() -> None:
    cache = LocalPromptCache(ttl_seconds=60)
    epoch = await cache.epoch("p")
    await cache.put("p", epoch, "k", b"v1")
    assert await cache.get("p", epoch, "k") == b"v1"
    # A reader takes the epoch, a write lands, then the reader stores what it read: dropped.
    stale_epoch = await cache.epoch("p")
    await cache.invalidate("p")
    await cache.put("p", stale_epoch, "k", b"stale")
    fresh = await cache.epoch("p")
    assert fresh != stale_epoch
    assert await cache.get("p", fresh, "k") is None
    assert await cache.get("other", await cache.epoch("other"), "k") is None


async def test_local_cache_expires_entries() -> None:
    cache = LocalPromptCache(ttl_seconds=0.0)
    epoch = await cache.epoch("p")
    await cache.put("p", epoch, "k", b"v")
    assert await cache.get("p", epoch, "k") is None


async def test_redis_cache_invalidation_is_shared(redis_url: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    one = RedisPromptCache(aioredis.Redis.from_url(redis_url), prefix)
    two = RedisPromptCache(aioredis.Redis.from_url(redis_url), prefix)  # another process
    try:
        epoch = await one.epoch("p")
        await one.put("p", epoch, "k", b"v1")
        assert await two.get("p", await two.epoch("p"), "k") == b"v1"
        await two.invalidate("p")
        assert await one.get("p", await one.epoch("p"), "k") is None
    finally:
        await one.close()
        await two.close()


async def test_redis_cache_outage_reads_through() -> None:
    broken = RedisPromptCache(aioredis.Redis.from_url("redis://127.0.0.1:1", socket_connect_timeout=0.2), "x")
    try:
        epoch = await broken.epoch("p")
        assert await broken.get("p", epoch, "k") is None
        await broken.put("p", epoch, "k", b"v")
        await broken.invalidate("p")
    finally:
        await broken.close()
