"""Tier conditions compiled into predicates over (usage, model parameters, metadata)."""

from __future__ import annotations

import json
import logging
import operator
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from spyglass.collector.pricing.definitions import AttributeCondition, TierCondition, UsageCondition
from spyglass.collector.pricing.patterns import Pattern, PatternError, compile_pattern

log = logging.getLogger(__name__)

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
    "neq": operator.ne,
}

# A client can invent any number of usage keys; stop memoising pattern hits past this size so
# a hostile stream cannot grow the memo without bound.
_KEY_MEMO_LIMIT = 1024


class UsageCheck:
    """Sums usage values whose key matches a pattern and compares the sum with a threshold."""

    __slots__ = ("_compare", "_key_hits", "_regex", "_threshold")

    def __init__(self, condition: UsageCondition) -> None:
        try:
            self._regex: Pattern | None = compile_pattern(
                condition.usage_detail_pattern, ignore_case=not condition.case_sensitive
            )
        except PatternError:
            # Upstream treats a condition that cannot be evaluated as false; keep that fail-safe.
            log.warning("pricing tier usage pattern does not compile: %r", condition.usage_detail_pattern)
            self._regex = None
        self._compare = _COMPARE[condition.operator]
        self._threshold = condition.value
        self._key_hits: dict[str, bool] = {}

    def __call__(
        self,
        usage: Mapping[str, int],
        model_parameters: Mapping[str, Any] | None,
        metadata: Mapping[str, Any] | None,
    ) -> bool:
        regex = self._regex
        if regex is None:
            return False
        hits = self._key_hits
        total = 0
        for key, units in usage.items():
            hit = hits.get(key)
            if hit is None:
                hit = regex.search(key) is not None
                if len(hits) < _KEY_MEMO_LIMIT:
                    hits[key] = hit
            if hit:
                total += units
        return self._compare(total, self._threshold)


class AttributeCheck:
    """Tests a top-level model parameter or metadata value against a set of strings."""

    __slots__ = ("_from_metadata", "_key", "_values")

    def __init__(self, condition: AttributeCondition) -> None:
        self._from_metadata = condition.source == "metadata"
        self._key = condition.key
        self._values = frozenset(condition.values)

    def __call__(
        self,
        usage: Mapping[str, int],
        model_parameters: Mapping[str, Any] | None,
        metadata: Mapping[str, Any] | None,
    ) -> bool:
        source = metadata if self._from_metadata else model_parameters
        if not source or self._key not in source:
            return False
        return attribute_text(source[self._key]) in self._values


TierCheck = UsageCheck | AttributeCheck


def attribute_text(value: object) -> str:
    """The string an attribute value is compared as, spelled the way JavaScript would.

    Langfuse stores model parameters and metadata as strings and compares those, so
    ``True`` must read ``"true"`` and ``2.0`` must read ``"2"``; a missing value is ``""``.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    try:
        return msgspec.json.encode(value).decode()
    except (TypeError, msgspec.EncodeError):
        return json.dumps(value, default=str, separators=(",", ":"))


def compile_condition(condition: TierCondition) -> TierCheck:
    if isinstance(condition, UsageCondition):
        return UsageCheck(condition)
    return AttributeCheck(condition)
