"""What a prompt create / label update may contain; every problem is a 400 that names it.

Limits follow Langfuse: names up to 255 characters without `|`, labels `[a-z0-9_.-]{1,36}`,
commit messages up to 500 characters, chat messages `{role, content}` or
`{type: "placeholder", name}`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from spyglass.collector.http import bad_request
from spyglass.store.postgres.prompts_repo import LATEST, NewVersion

MAX_NAME = 255
MAX_LABEL = 36
MAX_COMMIT_MESSAGE = 500
_LABEL = re.compile(r"^[a-z0-9_\-.]+$")
# A variable or placeholder name: a letter, then letters, digits or underscores.
_IDENTIFIER = re.compile(r"^[^\W\d_]\w*$")
_VARIABLE = re.compile(r"{{([^{}]*)}}")


def validate_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise bad_request("Invalid prompt: 'name' must be a non-empty string")
    if len(name) > MAX_NAME:
        raise bad_request(f"Invalid prompt name: at most {MAX_NAME} characters (got {len(name)})")
    if "|" in name:
        raise bad_request(f"Invalid prompt name {name!r}: '|' is not allowed (it separates tag fields)")
    # Folders are the `/`-separated parts; an empty part would be a folder without a name.
    if name.startswith("/") or name.endswith("/") or "//" in name:
        raise bad_request(f"Invalid prompt name {name!r}: folder parts separated by '/' must not be empty")
    return name


def validate_labels(value: Any, *, field: str, allow_latest: bool) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request(f"Invalid prompt: '{field}' must be a list of strings")
    for label in value:
        if not _LABEL.match(label) or len(label) > MAX_LABEL:
            raise bad_request(
                f"Invalid label {label!r}: labels are 1-{MAX_LABEL} characters of lowercase letters, digits, "
                "'_', '-' and '.'"
            )
        if label == LATEST and not allow_latest:
            raise bad_request("Invalid label 'latest': it is always assigned to the newest version and cannot be set")
    return list(dict.fromkeys(value))


def validate_tags(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request("Invalid prompt: 'tags' must be a list of strings")
    if any(not tag.strip() for tag in value):
        raise bad_request("Invalid prompt: tags must not be empty strings")
    return list(dict.fromkeys(value))


def _chat_messages(prompt: Any) -> list[dict[str, Any]]:
    if not isinstance(prompt, list):
        raise bad_request("Invalid chat prompt: 'prompt' must be a list of messages")
    placeholders: set[str] = set()
    variables: set[str] = set()
    for index, message in enumerate(prompt):
        where = f"message {index}"
        if not isinstance(message, dict):
            raise bad_request(f"Invalid chat prompt: {where} must be an object, got {type(message).__name__}")
        kind = message.get("type")
        if kind == "placeholder":
            name = message.get("name")
            if not isinstance(name, str) or not _IDENTIFIER.match(name):
                raise bad_request(
                    f"Invalid chat prompt: {where} is a placeholder whose 'name' must start with a letter and "
                    "contain only letters, digits and underscores"
                )
            if name in placeholders:
                raise bad_request(f"Invalid chat prompt: placeholder '{name}' appears more than once")
            placeholders.add(name)
            continue
        if kind not in (None, "chatmessage"):
            raise bad_request(
                f"Invalid chat prompt: {where} has type {kind!r}; expected 'chatmessage' or 'placeholder'"
            )
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or not role:
            raise bad_request(f"Invalid chat prompt: {where} needs a non-empty string 'role'")
        if not isinstance(content, str):
            raise bad_request(
                f'Invalid chat prompt: {where} needs a string \'content\' (or use {{"type": "placeholder", '
                '"name": ...}} for a message list filled in at compile time)'
            )
        variables.update(v.strip() for v in _VARIABLE.findall(content))
    clash = sorted(variables & placeholders)
    if clash:
        raise bad_request(f"Invalid chat prompt: {', '.join(clash)} used both as a variable and as a placeholder name")
    return prompt


def parse_create(body: Mapping[str, Any]) -> NewVersion:
    """A POST /v2/prompts body → the version to store (type inferred when omitted)."""
    name = validate_name(body.get("name"))
    kind = body.get("type")
    prompt = body.get("prompt")
    if kind is None:
        # Python v5 omits `type` for text prompts; a message list can only mean chat.
        kind = "chat" if isinstance(prompt, list) else "text"
    if kind == "text":
        if not isinstance(prompt, str):
            raise bad_request("Invalid text prompt: 'prompt' must be a string")
    elif kind == "chat":
        prompt = _chat_messages(prompt)
    else:
        raise bad_request(f"Invalid prompt: 'type' must be 'text' or 'chat', got {kind!r}")
    commit = body.get("commitMessage")
    if commit is not None and (not isinstance(commit, str) or len(commit) > MAX_COMMIT_MESSAGE):
        raise bad_request(
            f"Invalid prompt: 'commitMessage' must be a string of at most {MAX_COMMIT_MESSAGE} characters"
        )
    config = body.get("config")
    return NewVersion(
        name=name,
        type=kind,
        prompt=prompt,
        config={} if config is None else config,
        labels=validate_labels(body.get("labels"), field="labels", allow_latest=True),
        tags=validate_tags(body.get("tags")),
        commit_message=commit,
    )


def parse_new_labels(body: Mapping[str, Any]) -> list[str]:
    if "newLabels" not in body:
        raise bad_request("Invalid request body: 'newLabels' (a list of labels) is required")
    return validate_labels(body.get("newLabels"), field="newLabels", allow_latest=False)
