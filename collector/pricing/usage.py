"""Normalising what clients report as usage and cost into flat maps.

Accepted usage shapes:
- a raw map `{usage_type: count}` — kept as is, minus anything that is not a count;
- OpenAI Chat Completions (`prompt_tokens`, `completion_tokens`, `total_tokens`,
  `prompt_tokens_details`, `completion_tokens_details`);
- OpenAI Responses (`input_tokens`, `output_tokens`, `total_tokens`, `input_tokens_details`,
  `output_tokens_details`);
- the legacy Langfuse `usage` object (`input`/`output`/`total`/`unit` plus `inputCost`/
  `outputCost`/`totalCost`, or `promptTokens`/`completionTokens`/`totalTokens`).

OpenAI shapes become `input`, `output`, `total` plus `input_<detail>` / `output_<detail>`, with
each detail subtracted from its base (never below 0): a cached token is then priced once, at
the cached rate, instead of twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from spyglass.collector.pricing._coerce import count_sum, to_amount, to_count
from spyglass.collector.pricing.money import stored_cost

_CHAT_MARKERS = ("prompt_tokens", "completion_tokens")
_RESPONSES_KEYS = frozenset(
    ("input_tokens", "output_tokens", "total_tokens", "input_tokens_details", "output_tokens_details")
)
_LEGACY_TOKEN_KEYS = ("promptTokens", "completionTokens", "totalTokens")


class ProvidedUsage(msgspec.Struct, frozen=True, kw_only=True):
    """What the client reported, normalised: the `provided_*_details` columns.

    `usage_details` has no inferred total; `usage_with_total` adds it for `usage_details`.
    """

    usage_details: dict[str, int]
    cost_details: dict[str, float]
    unit: str | None = None


def normalize_usage_details(raw: object) -> dict[str, int]:
    """`usageDetails` in any accepted shape → `{usage_type: count}`.

    Chat shape is recognised by `prompt_tokens`/`completion_tokens`; its other top-level keys
    are ignored, because OpenAI-compatible proxies add fields there that are not token counts
    (OpenRouter's `cost`) or that repeat a detail (LiteLLM's `cache_read_input_tokens`), and
    passing them through would price the same tokens twice. Responses shape needs
    `input_tokens` and `output_tokens` and nothing outside its five keys, since Anthropic's
    usage (`input_tokens`, `cache_read_input_tokens`, ...) is priced by its own key names and
    must stay raw.
    """
    if not isinstance(raw, Mapping):
        return {}
    if any(marker in raw for marker in _CHAT_MARKERS):
        return _openai_usage(
            raw, "prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details"
        )
    if "input_tokens" in raw and "output_tokens" in raw and raw.keys() <= _RESPONSES_KEYS:
        return _openai_usage(raw, "input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")
    return _raw_counts(raw)


def _raw_counts(raw: Mapping[Any, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key, value in raw.items():
        if isinstance(key, str):
            count = to_count(value)
            if count is not None:
                counts[key] = count
    return counts


def _openai_usage(
    raw: Mapping[str, Any], input_key: str, output_key: str, input_details: str, output_details: str
) -> dict[str, int]:
    usage: dict[str, int] = {}
    for target, source in (("input", input_key), ("output", output_key), ("total", "total_tokens")):
        count = to_count(raw.get(source))
        if count is not None:
            usage[target] = count
    for base, details_key in (("input", input_details), ("output", output_details)):
        details = raw.get(details_key)
        if not isinstance(details, Mapping):
            continue
        for name, value in details.items():
            count = to_count(value)
            if count is None or not isinstance(name, str):
                continue
            usage[f"{base}_{name}"] = count
            if base in usage:
                usage[base] = max(usage[base] - count, 0)
    return usage


def normalize_cost_details(raw: object) -> dict[str, float]:
    """`costDetails` → `{usage_type: USD}`, keeping non-negative finite numbers (numeric strings
    parsed), rounded and clamped for Decimal64(12)."""
    if not isinstance(raw, Mapping):
        return {}
    costs: dict[str, float] = {}
    for key, value in raw.items():
        if isinstance(key, str):
            amount = to_amount(value)
            if amount is not None:
                costs[key] = stored_cost(amount)
    return costs


def provided_usage(usage: object = None, usage_details: object = None, cost_details: object = None) -> ProvidedUsage:
    """Combine a generation's `usage`, `usageDetails` and `costDetails` as Langfuse's worker does.

    The legacy object yields `{input, output, total}`; when it has no total and no
    `usageDetails` came along, total = input + output (or whichever one is present).
    `usageDetails` then overrides per key, and `costDetails` overrides the legacy costs per key.
    """
    legacy_usage, legacy_costs, unit = _read_legacy(usage)
    details = normalize_usage_details(usage_details)
    if "total" not in legacy_usage and not details:
        present = [legacy_usage[k] for k in ("input", "output") if k in legacy_usage]
        if present:
            legacy_usage["total"] = count_sum(present)
    legacy_usage.update(details)
    legacy_costs.update(normalize_cost_details(cost_details))
    return ProvidedUsage(usage_details=legacy_usage, cost_details=legacy_costs, unit=unit)


def normalize_legacy_usage(raw: object) -> ProvidedUsage:
    """The legacy `usage` object alone → usage (total inferred from input + output) and costs."""
    return provided_usage(usage=raw)


def _read_legacy(raw: object) -> tuple[dict[str, int], dict[str, float], str | None]:
    if not isinstance(raw, Mapping):
        return {}, {}, None
    # The OpenAI-flavoured camelCase names win when any is present, and imply TOKENS.
    if any(key in raw for key in _LEGACY_TOKEN_KEYS):
        sources = dict(zip(("input", "output", "total"), _LEGACY_TOKEN_KEYS, strict=True))
        unit: object = "TOKENS"
    else:
        sources = {"input": "input", "output": "output", "total": "total"}
        unit = raw.get("unit")
    usage: dict[str, int] = {}
    for target, source in sources.items():
        count = to_count(raw.get(source))
        if count is not None:
            usage[target] = count
    # Costs are kept in either spelling; upstream drops them with promptTokens, which loses
    # information a client took the trouble to send.
    costs = normalize_cost_details(
        {"input": raw.get("inputCost"), "output": raw.get("outputCost"), "total": raw.get("totalCost")}
    )
    return usage, costs, unit if isinstance(unit, str) else None


def usage_with_total(usage_details: Mapping[str, int]) -> dict[str, int]:
    """The stored `usage_details`: the provided map plus `total` = sum of all keys when absent."""
    usage = dict(usage_details)
    if usage and "total" not in usage:
        usage["total"] = count_sum(usage.values())
    return usage
