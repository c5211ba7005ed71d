"""Prompt composition: `@@@langfusePrompt:name=X|version=N@@@` / `|label=L@@@` references.

Tags are found in the JSON text of the prompt (so they also work inside chat message contents)
and replaced by the referenced text prompt, itself resolved first. As in Langfuse, a tag must
have exactly two parts, `name=` first; anything else is left as literal text. Resolution fails
(400) on a missing target, a chat target, a cycle (including any other version of the root's
own name) or nesting deeper than MAX_DEPTH.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from spyglass.collector.http import bad_request
from spyglass.store.postgres.prompts_repo import DependencyRef, PromptRow

MAX_DEPTH = 5
_TAG = re.compile(r"@@@langfusePrompt:(.*?)@@@")


class PromptTag(msgspec.Struct, frozen=True):
    raw: str
    ref: DependencyRef

    def describe(self) -> str:
        ref = self.ref
        how = f"version {ref.child_version}" if ref.child_version is not None else f"label '{ref.child_label}'"
        return f"'{ref.child_name}' {how}"


# Loads a referenced prompt by (name, version, label); None when it does not exist.
Loader = Callable[[str, int | None, str | None], Awaitable[PromptRow | None]]


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _parse(inner: str) -> DependencyRef | None:
    parts = inner.split("|")
    if len(parts) != 2 or not parts[0].startswith("name="):
        return None
    name = parts[0][len("name=") :]
    key, sep, value = parts[1].partition("=")
    if not name or not sep or not value:
        return None
    if key == "version":
        try:
            version = int(value)
        except ValueError:
            return None
        return DependencyRef(name, child_version=version) if version >= 1 else None
    if key == "label":
        return DependencyRef(name, child_label=value)
    return None


def find_tags(prompt: Any) -> list[PromptTag]:
    """The distinct well-formed references in a prompt (text or chat), in order of appearance."""
    seen: dict[str, PromptTag] = {}
    for match in _TAG.finditer(_json_text(prompt)):
        ref = _parse(match.group(1))
        if ref is not None and match.group(0) not in seen:
            seen[match.group(0)] = PromptTag(match.group(0), ref)
    return list(seen.values())


class Resolution(msgspec.Struct):
    prompt: Any
    # {root: {name, version, id}, dependencies: {parent id: [{id, name, version}]}}, None if none.
    graph: dict[str, Any] | None


async def resolve(root: PromptRow, load: Loader) -> Resolution:
    """The prompt with every reference replaced, and the graph of what was used."""
    edges: dict[str, list[dict[str, Any]]] = {}
    memo: dict[tuple[str, int | None, str | None], PromptRow | None] = {}

    async def fetch(ref: DependencyRef) -> PromptRow | None:
        key = (ref.child_name, ref.child_version, ref.child_label)
        if key not in memo:
            memo[key] = await load(*key)
        return memo[key]

    async def expand(node: PromptRow, depth: int, path: tuple[str, ...]) -> Any:
        tags = find_tags(node.prompt)
        if not tags:
            return node.prompt
        if depth >= MAX_DEPTH:
            raise bad_request(
                f"Prompt composition too deep: '{root.name}' nests references more than {MAX_DEPTH} levels "
                f"({' -> '.join(path)} -> ...)"
            )
        text = _json_text(node.prompt)
        for tag in tags:
            name = tag.ref.child_name
            if name in path:
                raise bad_request(
                    f"Circular prompt reference: {' -> '.join([*path, name])} (a prompt cannot include itself, "
                    "directly, through others, or in another version)"
                )
            child = await fetch(tag.ref)
            if child is None:
                raise bad_request(f"Prompt '{node.name}' references {tag.describe()}, which does not exist")
            if child.type != "text":
                raise bad_request(
                    f"Prompt '{node.name}' references {tag.describe()}, a {child.type} prompt; "
                    "only text prompts can be included"
                )
            resolved = await expand(child, depth + 1, (*path, name))
            edges.setdefault(node.id, [])
            if not any(e["id"] == child.id for e in edges[node.id]):
                edges[node.id].append({"id": child.id, "name": child.name, "version": child.version})
            # The child's text goes in as the inside of a JSON string literal, so quotes and
            # newlines stay escaped and the parent parses back to the same shape.
            text = text.replace(tag.raw, _json_text(resolved)[1:-1])
        return msgspec.json.decode(text)

    prompt = await expand(root, 0, (root.name,))
    if not edges:
        return Resolution(prompt=prompt, graph=None)
    graph = {"root": {"name": root.name, "version": root.version, "id": root.id}, "dependencies": edges}
    return Resolution(prompt=prompt, graph=graph)
