"""One pass over a span's attributes that sorts them for the rest of the mapper.

Several rules look at key *families* (`langfuse.observation.metadata.*`,
`gen_ai.usage.*`, `gen_ai.prompt.N.*`, …). Scanning every key once per rule would cost a
full walk each time; this pass walks once, and the rules read its buckets.

What a key is depends only on the key, and the same few dozen keys recur on every span,
so each key's classification is computed once and remembered (up to a bound, since keys
are client-controlled): the per-key cost becomes one dict lookup instead of a ladder of
prefix tests.
"""

from __future__ import annotations

from typing import Any

from spyglass.collector.otel import keys as K
from spyglass.collector.otel.tool_calls import is_tool_attribute
from spyglass.collector.otel.values import metadata_value

USAGE_PREFIXES = ("gen_ai.usage.", "llm.token_count.")
REQUEST_PREFIXES = ("gen_ai.request.", "llm.invocation_parameters.")
FLATTENED_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.", "llm.input_messages.", "llm.output_messages.")

# Key kinds, most frequent first in the pass's test order.
_MAPPED = 0  # mapped onto a column or trace field for every scope
_PLAIN = 1  # no special meaning: kept in the `attributes` metadata
_OBS_META = 2  # langfuse.observation.metadata.X
_SDK_MAPPED = 3  # user.id / session.id: bookkeeping on Langfuse SDK spans, plain elsewhere
_TRACE_META = 4  # langfuse.trace.metadata.X
_LEGACY_META = 5  # langfuse.metadata.X: both domains
_VERCEL_META = 11  # ai.telemetry.metadata.X: both domains
_RESERVED_META = 6  # ai.telemetry.metadata.{userId,…}: trace fields, not metadata
_EXPERIMENT = 7
_USAGE = 8
_REQUEST = 9
_FLATTENED = 10
_TOOL_DEFINITIONS = 12  # tool definitions kept in `attributes` (see collector/otel/tool_calls.py)

_CACHE_LIMIT = 8192
# key → (kind, short name or family, path below); the entries of the three commonest
# kinds are shared singletons, so the pass can test them by identity.
_MAPPED_ENTRY = (_MAPPED, "", "")
_PLAIN_ENTRY = (_PLAIN, "", "")
_SDK_MAPPED_ENTRY = (_SDK_MAPPED, "", "")
_kinds: dict[str, tuple[int, str, str]] = {}


def _classify(key: str) -> tuple[int, str, str]:
    """(kind, short name or family, path below the family)."""
    if key in K.LANGFUSE_MAPPED:
        return _MAPPED_ENTRY
    if key == K.USER_ID or key == K.SESSION_ID:
        return _SDK_MAPPED_ENTRY
    if key.startswith(K.OBSERVATION_METADATA_PREFIX):
        return _OBS_META, key[len(K.OBSERVATION_METADATA_PREFIX) :], ""
    if key.startswith(K.TRACE_METADATA_PREFIX):
        return _TRACE_META, key[len(K.TRACE_METADATA_PREFIX) :], ""
    if key.startswith(K.LEGACY_METADATA_PREFIX):
        return _LEGACY_META, key[len(K.LEGACY_METADATA_PREFIX) :], ""
    if key.startswith(K.VERCEL_METADATA_PREFIX):
        short = key[len(K.VERCEL_METADATA_PREFIX) :]
        return (_RESERVED_META if short in K.VERCEL_METADATA_RESERVED else _VERCEL_META), short, ""
    if key.startswith(K.LF_EXPERIMENT_PREFIX):
        return _EXPERIMENT, "", ""
    for kind, prefixes in ((_USAGE, USAGE_PREFIXES), (_REQUEST, REQUEST_PREFIXES)):
        for prefix in prefixes:
            if key.startswith(prefix):
                return kind, key[len(prefix) :], ""
    for prefix in FLATTENED_PREFIXES:
        if key.startswith(prefix):
            return _FLATTENED, prefix[:-1], key[len(prefix) :]
    if is_tool_attribute(key):
        return _TOOL_DEFINITIONS, "", ""
    return _PLAIN_ENTRY


def _learn(key: str) -> tuple[int, str, str]:
    entry = _classify(key)
    if len(_kinds) < _CACHE_LIMIT:
        _kinds[key] = entry
    return entry


class SortedAttributes:
    __slots__ = (
        "experiment",
        "flattened",
        "leftover",
        "obs_metadata",
        "request",
        "shared_metadata",
        "tool_definitions",
        "trace_metadata",
        "usage",
    )

    def __init__(self) -> None:
        self.obs_metadata: dict[str, str] = {}
        self.trace_metadata: dict[str, str] = {}
        # Everything not mapped onto a column; later trimmed of the keys used as I/O.
        self.leftover: dict[str, Any] = {}
        self.experiment: dict[str, Any] | None = None
        # `gen_ai.usage.X` / `llm.token_count.X` → {X: value}
        self.usage: dict[str, Any] | None = None
        # `gen_ai.request.X` / `llm.invocation_parameters.X` → {X: value}
        self.request: dict[str, Any] | None = None
        # family (`gen_ai.prompt`, …) → [(path below it, value)]
        self.flattened: dict[str, list[tuple[str, Any]]] | None = None
        # (legacy `langfuse.metadata.X`, Vercel `ai.telemetry.metadata.X`), merged last
        self.shared_metadata: tuple[dict[str, str], dict[str, str]] | None = None
        # Some leftover key carries tool definitions: the mapper moves them into the input.
        self.tool_definitions = False


def sort_attributes(attrs: dict[str, Any], langfuse_sdk: bool) -> SortedAttributes:
    out = SortedAttributes()
    leftover = out.leftover
    obs_metadata = out.obs_metadata
    known = _kinds.get
    for key, value in attrs.items():
        entry = known(key)
        if entry is None:
            entry = _learn(key)
        if entry is _MAPPED_ENTRY:
            continue
        if entry is _PLAIN_ENTRY:
            leftover[key] = value
            continue
        if entry is _SDK_MAPPED_ENTRY:
            if not langfuse_sdk:
                leftover[key] = value
            continue
        kind, short, rest = entry
        if kind == _OBS_META:
            # Inlined common case: a raw (JS) value or non-string JSON text is already its
            # map value; only a JSON string needs decoding (see metadata_value).
            if type(value) is str and value[:1] != '"':
                obs_metadata[short] = value
            else:
                obs_metadata[short] = metadata_value(value)
        elif kind == _TRACE_META:
            out.trace_metadata[short] = metadata_value(value)
        elif kind == _LEGACY_META or kind == _VERCEL_META:
            if out.shared_metadata is None:
                out.shared_metadata = ({}, {})
            legacy, vercel = out.shared_metadata
            (vercel if kind == _VERCEL_META else legacy)[short] = metadata_value(value)
        elif kind != _RESERVED_META:
            leftover[key] = value
            _family(out, kind, short, rest, key, value)
    if out.shared_metadata is not None:
        _merge_shared(out)
    return out


def _merge_shared(out: SortedAttributes) -> None:
    """Fixed precedence, whatever order the keys came in (the protobuf hot path reads them
    in hash order): domain-specific keys > `langfuse.metadata.X` > `ai.telemetry.metadata.X`."""
    legacy, vercel = out.shared_metadata or ({}, {})
    out.obs_metadata = {**vercel, **legacy, **out.obs_metadata}
    out.trace_metadata = {**vercel, **legacy, **out.trace_metadata}


def _family(out: SortedAttributes, kind: int, short: str, rest: str, key: str, value: Any) -> None:
    if kind == _EXPERIMENT:
        if out.experiment is None:
            out.experiment = {}
        out.experiment[key] = value
    elif kind == _USAGE:
        if out.usage is None:
            out.usage = {}
        out.usage[short] = value
    elif kind == _REQUEST:
        if out.request is None:
            out.request = {}
        out.request[short] = value
    elif kind == _TOOL_DEFINITIONS:
        out.tool_definitions = True
    else:
        if out.flattened is None:
            out.flattened = {}
        out.flattened.setdefault(short, []).append((rest, value))


def flattened_families(attrs: dict[str, Any]) -> dict[str, list[tuple[str, Any]]] | None:
    """The flattened-message buckets of attributes that did not go through the pass."""
    found: dict[str, list[tuple[str, Any]]] | None = None
    for key, value in attrs.items():
        if key.startswith(FLATTENED_PREFIXES):
            kind, family, rest = _classify(key)
            if kind == _FLATTENED:
                if found is None:
                    found = {}
                found.setdefault(family, []).append((rest, value))
    return found
