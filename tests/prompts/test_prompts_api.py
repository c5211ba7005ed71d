"""The prompt endpoints over raw HTTP: composition, listing, deletion, bad input, concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.prompts.support import Api

PROMPTS = "/api/public/v2/prompts"


async def _create(api: Api, name: str, prompt: Any, **extra: Any) -> dict[str, Any]:
    reply = await api.post(PROMPTS, {"name": name, "prompt": prompt, **extra})
    assert reply.status == 200, reply.body
    return reply.body


async def _count_versions(api: Api, name: str) -> int:
    listing = await api.get(PROMPTS, name=name)
    return len(listing.body["data"][0]["versions"]) if listing.body["data"] else 0


# ---- composition ---------------------------------------------------------------------------


async def test_references_resolve_by_label_and_version_nested(api: Api) -> None:
    await _create(api, "base", 'Be "kind".', labels=["production"])
    await _create(api, "base", "Be terse.")
    await _create(api, "mid", "Rules: @@@langfusePrompt:name=base|version=2@@@ and more", labels=["production"])
    top = await _create(
        api,
        "top",
        [
            {"role": "system", "content": "@@@langfusePrompt:name=mid|label=production@@@"},
            {"role": "user", "content": "Tone: @@@langfusePrompt:name=base|label=production@@@"},
        ],
        type="chat",
        labels=["production"],
    )
    # Create answers with the stored (unresolved) prompt.
    assert "@@@langfusePrompt" in top["prompt"][0]["content"]

    got = (await api.get(f"{PROMPTS}/top")).body
    assert got["prompt"][0]["content"] == "Rules: Be terse. and more"
    assert got["prompt"][1]["content"] == 'Tone: Be "kind".'
    graph = got["resolutionGraph"]
    assert graph["root"] == {"name": "top", "version": 1, "id": got["id"]}
    assert sorted(d["name"] for d in graph["dependencies"][got["id"]]) == ["base", "mid"]

    raw = (await api.get(f"{PROMPTS}/top", resolve="false")).body
    assert raw["prompt"][0]["content"] == "@@@langfusePrompt:name=mid|label=production@@@"
    assert raw["resolutionGraph"] is None


async def test_changing_a_child_changes_the_resolved_parent_immediately(api: Api) -> None:
    await _create(api, "child", "old text", labels=["production"])
    await _create(api, "parent", "[@@@langfusePrompt:name=child|label=production@@@]", labels=["production"])
    assert (await api.get(f"{PROMPTS}/parent")).body["prompt"] == "[old text]"  # now cached
    await _create(api, "child", "new text", labels=["production"])
    assert (await api.get(f"{PROMPTS}/parent")).body["prompt"] == "[new text]"


async def test_bad_references_are_refused_and_nothing_is_written(api: Api) -> None:
    missing = await api.post(PROMPTS, {"name": "p", "prompt": "@@@langfusePrompt:name=ghost|label=production@@@"})
    assert missing.status == 400 and "ghost" in missing.message
    assert await _count_versions(api, "p") == 0

    await _create(api, "a", "plain a", labels=["production"])
    await _create(api, "b", "b includes @@@langfusePrompt:name=a|label=production@@@", labels=["production"])
    cycle = await api.post(PROMPTS, {"name": "a", "prompt": "a includes @@@langfusePrompt:name=b|label=production@@@"})
    assert cycle.status == 400 and "Circular" in cycle.message and "a -> b -> a" in cycle.message
    assert await _count_versions(api, "a") == 1

    await _create(api, "chatty", [{"role": "user", "content": "hi"}], type="chat")
    chat_ref = await api.post(PROMPTS, {"name": "q", "prompt": "@@@langfusePrompt:name=chatty|version=1@@@"})
    assert chat_ref.status == 400 and "chat prompt" in chat_ref.message


async def test_nesting_deeper_than_the_limit_is_refused(api: Api) -> None:
    await _create(api, "n0", "leaf", labels=["production"])
    for i in range(1, 6):
        await _create(api, f"n{i}", f"@@@langfusePrompt:name=n{i - 1}|label=production@@@", labels=["production"])
    assert (await api.get(f"{PROMPTS}/n5")).body["prompt"] == "leaf"  # five levels are fine
    too_deep = await api.post(PROMPTS, {"name": "n6", "prompt": "@@@langfusePrompt:name=n5|label=production@@@"})
    assert too_deep.status == 400 and "too deep" in too_deep.message


# ---- listing and deletion ------------------------------------------------------------------


async def test_list_filters_and_pages(api: Api) -> None:
    for i in range(3):
        await _create(
            api, f"list/p{i}", f"text {i}", labels=["production"] if i else [], tags=["t-even"] if i % 2 == 0 else []
        )
    await _create(api, "list/p1", "text 1b", labels=["staging"], config={"v": 2})

    page1 = (await api.get(PROMPTS, limit=2, page=1)).body
    page2 = (await api.get(PROMPTS, limit=2, page=2)).body
    assert page1["meta"] == {"page": 1, "limit": 2, "totalItems": 3, "totalPages": 2}
    names = [p["name"] for p in page1["data"] + page2["data"]]
    assert sorted(names) == ["list/p0", "list/p1", "list/p2"]

    by_name = (await api.get(PROMPTS, name="list/p1")).body["data"]
    assert by_name[0]["versions"] == [1, 2]
    assert by_name[0]["labels"] == ["latest", "production", "staging"]
    assert by_name[0]["lastConfig"] == {"v": 2}
    assert by_name[0]["type"] == "text"

    tagged = (await api.get(PROMPTS, tag="t-even")).body["data"]
    assert sorted(p["name"] for p in tagged) == ["list/p0", "list/p2"]
    staged = (await api.get(PROMPTS, label="staging")).body["data"]
    assert [(p["name"], p["versions"]) for p in staged] == [("list/p1", [2])]
    future = (await api.get(PROMPTS, fromUpdatedAt="2262-01-01T00:00:00Z")).body
    assert future["data"] == [] and future["meta"]["totalItems"] == 0


async def test_tags_are_shared_by_all_versions(api: Api) -> None:
    await _create(api, "tagged", "one", tags=["a"])
    await _create(api, "tagged", "two")  # no tags given: keeps ["a"]
    assert (await api.get(f"{PROMPTS}/tagged", version=2)).body["tags"] == ["a"]
    await _create(api, "tagged", "three", tags=["b", "c"])
    assert (await api.get(f"{PROMPTS}/tagged", version=1)).body["tags"] == ["b", "c"]


async def test_delete_versions_and_latest_moves_back(api: Api) -> None:
    for text in ("v1", "v2", "v3"):
        await _create(api, "del", text)
    await api.patch(f"{PROMPTS}/del/versions/1", {"newLabels": ["production"]})

    assert (await api.delete(f"{PROMPTS}/del", version=3)).status == 204
    latest = (await api.get(f"{PROMPTS}/del", label="latest")).body
    assert latest["version"] == 2 and "latest" in latest["labels"]

    assert (await api.delete(f"{PROMPTS}/del", label="production")).status == 204
    assert (await api.get(f"{PROMPTS}/del", version=1)).status == 404

    gone = await api.delete(f"{PROMPTS}/del", version=7)
    assert gone.status == 404 and "'del'" in gone.message
    assert (await api.delete(f"{PROMPTS}/del")).status == 204
    assert (await api.get(f"{PROMPTS}/del", label="latest")).status == 404


async def test_a_referenced_version_cannot_be_deleted(api: Api) -> None:
    await _create(api, "lib", "shared", labels=["production"])
    await _create(api, "app", "uses @@@langfusePrompt:name=lib|version=1@@@")
    refused = await api.delete(f"{PROMPTS}/lib", version=1)
    assert refused.status == 409 and "'app' version 1" in refused.message
    assert (await api.get(f"{PROMPTS}/lib", version=1)).status == 200


# ---- bad input -----------------------------------------------------------------------------


async def test_unknown_prompt_version_or_label_is_a_404_naming_it(api: Api) -> None:
    await _create(api, "known", "x", labels=["production"])
    for params, needle in (
        ({}, "'nope' with label 'production'"),
        ({"version": 9}, "'known' with version 9"),
        ({"label": "canary"}, "'known' with label 'canary'"),
    ):
        name = "nope" if not params else "known"
        reply = await api.get(f"{PROMPTS}/{name}", **params)
        assert reply.status == 404 and needle in reply.message, reply.body
        assert reply.body["error"] == "NotFoundError"


async def test_invalid_bodies_are_400s_naming_the_problem(api: Api) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"prompt": "x"}, "'name'"),
        ({"name": "a|b", "prompt": "x"}, "'|'"),
        ({"name": "ok", "prompt": 5}, "must be a string"),
        ({"name": "ok", "type": "chat", "prompt": "not a list"}, "list of messages"),
        ({"name": "ok", "type": "chat", "prompt": [{"role": "user"}]}, "message 0 needs a string 'content'"),
        ({"name": "ok", "type": "chat", "prompt": [{"content": "x"}]}, "message 0 needs a non-empty string 'role'"),
        ({"name": "ok", "type": "chat", "prompt": [{"type": "placeholder", "name": "9x"}]}, "placeholder"),
        ({"name": "ok", "type": "chat", "prompt": [{"type": "image", "url": "u"}]}, "type 'image'"),
        (
            {
                "name": "ok",
                "type": "chat",
                "prompt": [{"role": "user", "content": "{{h}}"}, {"type": "placeholder", "name": "h"}],
            },
            "both as a variable and as a placeholder",
        ),
        ({"name": "ok", "prompt": "x", "labels": ["Prod"]}, "Invalid label 'Prod'"),
        ({"name": "ok", "prompt": "x", "type": "image"}, "'type'"),
        ({"name": "ok", "prompt": "x", "commitMessage": "m" * 501}, "commitMessage"),
    ]
    for body, needle in cases:
        reply = await api.post(PROMPTS, body)
        assert reply.status == 400 and needle in reply.message, (body, reply.body)
    assert await _count_versions(api, "ok") == 0


async def test_type_cannot_change_between_versions(api: Api) -> None:
    await _create(api, "typed", "text first")
    reply = await api.post(PROMPTS, {"name": "typed", "type": "chat", "prompt": [{"role": "user", "content": "x"}]})
    assert reply.status == 400 and "text prompt" in reply.message
    assert await _count_versions(api, "typed") == 1


async def test_label_updates_are_validated(api: Api) -> None:
    await _create(api, "lab", "x")
    latest = await api.patch(f"{PROMPTS}/lab/versions/1", {"newLabels": ["latest"]})
    assert latest.status == 400 and "latest" in latest.message
    missing = await api.patch(f"{PROMPTS}/lab/versions/4", {"newLabels": ["production"]})
    assert missing.status == 404 and "no version 4" in missing.message
    unknown = await api.patch(f"{PROMPTS}/nobody/versions/1", {"newLabels": ["production"]})
    assert unknown.status == 404 and "'nobody'" in unknown.message
    no_body = await api.patch(f"{PROMPTS}/lab/versions/1", {})
    assert no_body.status == 400 and "newLabels" in no_body.message
    both = await api.get(f"{PROMPTS}/lab", version=1, label="production")
    assert both.status == 400
    assert (await api.get(f"{PROMPTS}/lab", version=1)).body["labels"] == ["latest"]


# ---- concurrency ---------------------------------------------------------------------------


async def test_concurrent_creates_get_distinct_consecutive_versions(api: Api) -> None:
    replies = await asyncio.gather(*(api.post(PROMPTS, {"name": "race", "prompt": f"text {i}"}) for i in range(20)))
    assert all(r.status == 200 for r in replies)
    assert sorted(r.body["version"] for r in replies) == list(range(1, 21))
    latest = (await api.get(f"{PROMPTS}/race", label="latest")).body
    assert latest["version"] == 20


async def test_moving_a_label_is_atomic(api: Api) -> None:
    for i in range(4):
        await _create(api, "atomic", f"v{i + 1}", labels=["production"] if i == 0 else [])
    seen: list[int] = []
    stop = asyncio.Event()

    async def reader() -> None:
        while not stop.is_set():
            reply = await api.get(f"{PROMPTS}/atomic")
            # Mid-move the label is on exactly one version: never missing (404).
            assert reply.status == 200, reply.body
            seen.append(reply.body["version"])

    readers = [asyncio.create_task(reader()) for _ in range(3)]
    moves = [api.patch(f"{PROMPTS}/atomic/versions/{1 + i % 4}", {"newLabels": ["production"]}) for i in range(24)]
    results = await asyncio.gather(*moves)
    stop.set()
    await asyncio.gather(*readers)
    assert all(r.status == 200 for r in results)
    assert seen and set(seen) <= {1, 2, 3, 4}
    holders = [v for v in range(1, 5) if "production" in (await api.get(f"{PROMPTS}/atomic", version=v)).body["labels"]]
    assert len(holders) == 1


async def test_structured_list_filter(api: Api) -> None:
    import json

    await _create(api, "tools/search/description", "s", labels=["production"], config={"model": "gpt-4o"})
    await _create(api, "tools/fetch/description", "f", tags=["beta"], config={"model": "claude"})
    await _create(api, "tools/fetch/description", "f2", config={"model": "claude", "temperature": 0})
    await _create(api, "agents/planner", "p")

    async def names(conditions: list[dict[str, Any]]) -> list[tuple[str, list[int]]]:
        reply = await api.get(PROMPTS, filter=json.dumps(conditions), name="ignored-when-filter-given")
        assert reply.status == 200, reply.body
        return sorted((p["name"], p["versions"]) for p in reply.body["data"])

    assert await names(
        [
            {"type": "string", "column": "name", "operator": "starts with", "value": "tools/"},
            {"type": "string", "column": "name", "operator": "ends with", "value": "/description"},
        ]
    ) == [("tools/fetch/description", [1, 2]), ("tools/search/description", [1])]
    assert await names([{"type": "number", "column": "version", "operator": ">=", "value": 2}]) == [
        ("tools/fetch/description", [2])
    ]
    assert await names(
        [{"type": "arrayOptions", "column": "labels", "operator": "any of", "value": ["production"]}]
    ) == [("tools/search/description", [1])]
    assert await names(
        [{"type": "stringObject", "column": "config", "key": "temperature", "operator": "is set", "value": ""}]
    ) == [("tools/fetch/description", [2])]
    assert await names(
        [{"type": "stringObject", "column": "config", "key": "model", "operator": "contains", "value": "GPT"}]
    ) == [("tools/search/description", [1])]
    assert await names(
        [{"type": "stringOptions", "column": "name", "operator": "none of", "value": ["agents/planner"]}]
    ) == [
        ("tools/fetch/description", [1, 2]),
        ("tools/search/description", [1]),
    ]
    assert await names([]) == [
        ("agents/planner", [1]),
        ("tools/fetch/description", [1, 2]),
        ("tools/search/description", [1]),
    ]
    bad = await api.get(
        PROMPTS, filter=json.dumps([{"type": "string", "column": "config", "operator": "=", "value": "x"}])
    )
    assert bad.status == 400 and "column 'config'" in bad.message
    assert (await api.get(PROMPTS, filter="not json")).status == 400
