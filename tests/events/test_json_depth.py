"""The JSON depth check (`collector.json_depth`) agrees with the real nesting of any document,
whatever its strings hold (brackets, quotes, escaped backslashes), and is cheap on real bodies."""

from __future__ import annotations

import json
import time
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from spyglass.collector.json_depth import MAX_JSON_DEPTH, JsonTooDeep, check_depth, too_deep

# Strings made of the characters that could fool a scanner.
_tricky = st.text(alphabet='[]{}"\\ a\n\u0000é', max_size=8)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _tricky,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_tricky, inner, max_size=3),
    max_leaves=40,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


@settings(max_examples=500)
@given(_json, st.booleans())
def test_matches_the_real_nesting(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    real = depth(value)
    for limit in {0, 1, max(real - 1, 0), real, real + 1}:
        assert too_deep(text, limit) == (real > limit), (text, real, limit)
        assert too_deep(text.encode(), limit) == (real > limit)
        assert too_deep(memoryview(text.encode()), limit) == (real > limit)


def test_the_limit_and_the_message() -> None:
    at_limit = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    check_depth(at_limit)
    try:
        check_depth("[" + at_limit + "]")
    except JsonTooDeep as exc:
        assert str(exc) == f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    else:
        raise AssertionError("129 levels passed")
    # Brackets inside strings do not nest; an escaped quote does not end a string.
    assert not too_deep(json.dumps(["[" * 5000, '\\"[[[' * 500, {"{" * 300: "}"}]))
    # Whatever msgspec would reach before an error counts, even in a malformed document.
    assert too_deep("[" * 5000)


def test_cost_on_a_large_real_body() -> None:
    """A 1.5 MB ingestion batch of chat messages with tool calls: the check stays a fraction of
    what decoding the body costs anyway."""
    message = {
        "role": "assistant",
        "content": 'Use the "search" tool [1]. {ok}\n' * 10,
        "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": json.dumps({"q": [1, {"a": "b"}]})}}],
    }
    event = {
        "id": "e",
        "type": "generation-create",
        "timestamp": "2026-01-01T00:00:00Z",
        "body": {"input": [message] * 10},
    }
    body = json.dumps({"batch": [event] * 300}).encode()
    assert len(body) > 1_000_000

    def best(fn: Any) -> float:
        times = []
        for _ in range(5):
            began = time.perf_counter()
            fn(body)
            times.append(time.perf_counter() - began)
        return min(times)

    check, decode = best(too_deep), best(msgspec.json.decode)
    assert not too_deep(body)
    assert check < 5 * decode + 0.01, (check, decode)
