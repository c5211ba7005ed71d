"""How event values become ClickHouse column values: input/output text and the metadata map.

Input/output round trip
    A column holds the JSON text of any non-string value exactly as the client sent it, and a
    string value as the bare string (not JSON-quoted), like upstream. To read it back, JSON-decode
    the text and fall back to the text itself when that fails. The one ambiguity, shared with
    upstream: a string that is itself valid JSON (``"42"``, ``"{\\"a\\": 1}"``) reads back decoded.

Metadata map
    The column is ``Map(String, String)``: string values are stored as they are, anything else as
    its JSON text. Merging is a deep merge by key: a nested object merges into the stored one
    (decoded from its JSON text) key by key, any other value replaces it, ``null`` and ``{}`` never
    replace anything. Lists are replaced whole (lodash would merge them index by index, which
    nobody expects). As with input/output, a stored string that happens to be a JSON object's text
    is merged as that object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from spyglass.collector.json_depth import too_deep

_ENCODER = msgspec.json.Encoder()
_JSON_NULL = b"null"


def io_text(raw: msgspec.Raw) -> str | None:
    """The column text for an input/output value; None for JSON null."""
    data = memoryview(raw)
    if data == _JSON_NULL:
        return None
    if data[:1] == b'"':
        text: str = msgspec.json.decode(data)
        return text
    return bytes(data).decode("utf-8")


def json_encoded(value: Any) -> str:
    """JSON text of any value, a str included (it becomes a quoted JSON string)."""
    return _ENCODER.encode(value).decode("utf-8")


def _as_object(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    # A stored text nested deeper than anything accepted as JSON stays text (decoding it could
    # exceed the recursion limit): the update replaces it instead of merging into it.
    if isinstance(value, str) and value.startswith("{") and not too_deep(value):
        try:
            decoded = msgspec.json.decode(value)
        except msgspec.DecodeError:
            return None
        return decoded if isinstance(decoded, dict) else None
    return None


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``update`` merged into ``base`` (neither is modified)."""
    merged = dict(base)
    for key, value in update.items():
        if value is None:
            continue
        if isinstance(value, dict):
            current = merged.get(key)
            if isinstance(current, dict):
                merged[key] = deep_merge(current, value)
                continue
            if not value and key in merged:
                continue
        merged[key] = value
    return merged


def merge_metadata(stored: Mapping[str, str], updates: Iterable[Mapping[str, Any] | None]) -> dict[str, str]:
    """The metadata column after applying each event's metadata (in order) to the stored map."""
    working: dict[str, Any] = dict(stored)
    for update in updates:
        if not update:
            continue
        for key, value in update.items():
            if value is None:
                continue
            if isinstance(value, dict):
                current = _as_object(working.get(key))
                if current is not None:
                    working[key] = deep_merge(current, value)
                    continue
                if not value and key in working:
                    continue
            working[key] = value
    return {key: value if isinstance(value, str) else json_encoded(value) for key, value in working.items()}
