"""Token usage and cost a span reports itself (upstream §2.10, §2.11, §5.3 "provided").

Usage keys follow Langfuse's convention (`input`, `output`, `total`, `input_cached_tokens`,
`output_reasoning_tokens`, …), the names model prices are keyed by. Cached and reasoning
tokens are reported *inside* the input/output counts by most providers, so they are
subtracted to keep every bucket priced once. Counts never go below zero (UInt64 column).
"""

from __future__ import annotations

from typing import Any

from spyglass.collector.otel import keys as K
from spyglass.collector.otel.values import parse_json_object, to_amount, to_count
from spyglass.collector.pricing.money import COST_LIMIT, MAX_STORED_COST

_COST_LIMIT = float(COST_LIMIT)

_CHAT_KEYS = frozenset(
    {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "prompt_tokens_details",
        "completion_tokens_details",
    }
)
_RESPONSES_KEYS = frozenset(
    {"input_tokens", "output_tokens", "total_tokens", "input_tokens_details", "output_tokens_details"}
)


def _strict_count(value: Any) -> int | None:
    # The OpenAI shapes carry JSON numbers; a string there means it is some other map.
    return to_count(value) if type(value) is int or type(value) is float else None


def _openai_shape(obj: dict[str, Any], side_in: str, side_out: str) -> dict[str, int] | None:
    """OpenAI chat (`prompt`/`completion`) or responses (`input`/`output`) usage → Langfuse
    buckets, or None if `obj` is not exactly that shape."""
    counted_in = _strict_count(obj.get(f"{side_in}_tokens"))
    counted_out = _strict_count(obj.get(f"{side_out}_tokens"))
    total = _strict_count(obj.get("total_tokens"))
    if counted_in is None or counted_out is None or total is None:
        return None
    result = {"input": counted_in, "output": counted_out, "total": total}
    for details_key, bucket in (
        (f"{side_in}_tokens_details", "input"),
        (f"{side_out}_tokens_details", "output"),
    ):
        details = obj.get(details_key)
        if details is None:
            continue
        if type(details) is not dict:
            return None
        for name, raw in details.items():
            if raw is None:
                continue
            count = _strict_count(raw)
            if count is None:
                return None
            result[f"{bucket}_{name}"] = count
            result[bucket] = max(result[bucket] - count, 0)
    return result


def usage_from_object(obj: dict[str, Any]) -> dict[str, int]:
    """`langfuse.observation.usage_details`: OpenAI chat shape, OpenAI responses shape, or a
    plain map of counts (anything that is not a count is dropped)."""
    keys = obj.keys()
    if "prompt_tokens" in obj and keys <= _CHAT_KEYS:
        shaped = _openai_shape(obj, "prompt", "completion")
        if shaped is not None:
            return shaped
    if "input_tokens" in obj and keys <= _RESPONSES_KEYS:
        shaped = _openai_shape(obj, "input", "output")
        if shaped is not None:
            return shaped
    usage: dict[str, int] = {}
    for name, raw in obj.items():
        count = to_count(raw)
        if count is not None:
            usage[name] = count
    return usage


_INPUT_KEYS = ("prompt_tokens", "input_tokens", "prompt")
_OUTPUT_KEYS = ("completion_tokens", "output_tokens", "completion")
_TOTAL_KEYS = ("total_tokens", "total")
_CACHE_READ_KEYS = (
    "cache_read.input_tokens",
    "cache_read_input_tokens",
    "cache_read_tokens",
    "details.cache_read_tokens",
    "details.cache_read_input_tokens",
    "prompt_details.cache_read",
    "input_cached_tokens",
)
_CACHE_CREATION_KEYS = (
    "cache_creation.input_tokens",
    "cache_creation_input_tokens",
    "cache_creation_tokens",
    "cache_write_tokens",
    "details.cache_creation_tokens",
    "details.cache_creation_input_tokens",
    "details.cache_write_tokens",
    "prompt_details.cache_write",
    "input_cache_creation",
)
_REASONING_KEYS = ("reasoning.output_tokens", "completion_details.reasoning", "output_reasoning_tokens")
_AUDIO_KEYS = ("completion_details.audio", "output_audio_tokens")


def _take(raw: dict[str, int], names: tuple[str, ...], consumed: set[str]) -> int | None:
    found = None
    for name in names:
        if name in raw:
            consumed.add(name)
            if found is None:
                found = raw[name]
    return found


def _generic_usage(attrs: dict[str, Any], scope_name: str, family: dict[str, Any] | None) -> dict[str, int]:
    raw: dict[str, int] = {}
    if family:
        for name, value in family.items():
            if name != "cost":
                count = to_count(value)
                if count is not None:
                    raw[name] = count
    total_tokens = to_count(attrs.get("llm.usage.total_tokens"))
    if total_tokens is not None and "total_tokens" not in raw and "total" not in raw:
        raw["total_tokens"] = total_tokens
    if scope_name == "gcp.vertex.agent":
        cached = _vertex_cached_tokens(attrs)
        if cached is not None:
            raw["cached_content_token_count"] = cached
    if not raw:
        return {}

    consumed: set[str] = set()
    usage: dict[str, int] = {}
    prompt = _take(raw, _INPUT_KEYS, consumed)
    completion = _take(raw, _OUTPUT_KEYS, consumed)
    total = _take(raw, _TOTAL_KEYS, consumed)
    cache_read = _take(raw, _CACHE_READ_KEYS, consumed)
    cache_creation = _take(raw, _CACHE_CREATION_KEYS, consumed)
    reasoning = _take(raw, _REASONING_KEYS, consumed)
    audio = _take(raw, _AUDIO_KEYS, consumed)
    vertex_cached = raw.get("cached_content_token_count")
    if prompt is not None:
        usage["input"] = max(prompt - (cache_read or 0) - (cache_creation or 0) - (vertex_cached or 0), 0)
    if completion is not None:
        usage["output"] = max(completion - (reasoning or 0) - (audio or 0), 0)
    if total is not None:
        usage["total"] = total
    if cache_read is not None:
        usage["input_cached_tokens"] = cache_read
    if cache_creation is not None:
        usage["input_cache_creation"] = cache_creation
    if reasoning is not None:
        usage["output_reasoning_tokens"] = reasoning
    if audio is not None:
        usage["output_audio_tokens"] = audio
    for name, count in raw.items():
        if name not in consumed:
            usage[name.removeprefix("details.")] = count
    return usage


def _vertex_cached_tokens(attrs: dict[str, Any]) -> int | None:
    response = parse_json_object(attrs.get("gcp.vertex.agent.llm_response"))
    if response is None:
        return None
    meta = response.get("usage_metadata") or response.get("usageMetadata")
    if type(meta) is not dict:
        return None
    return to_count(meta.get("cached_content_token_count", meta.get("cachedContentTokenCount")))


def _first_count(attrs: dict[str, Any], names: tuple[str, ...]) -> int | None:
    for name in names:
        count = to_count(attrs.get(name))
        if count is not None:
            return count
    return None


_INPUT_CACHE_BUCKETS = (
    "input_cached_tokens",
    "input_cache_creation",
    "input_cache_creation_5m",
    "input_cache_creation_1h",
    "input_cache_read",
    "input_cache_write",
)


def _vercel_usage(attrs: dict[str, Any]) -> dict[str, int]:
    usage: dict[str, int] = {}
    found = {
        "input": _first_count(
            attrs,
            (
                "gen_ai.usage.prompt_tokens",
                "gen_ai.usage.input_tokens",
                "ai.usage.promptTokens",
                "ai.usage.inputTokens",
            ),
        ),
        "output": _first_count(
            attrs,
            (
                "gen_ai.usage.completion_tokens",
                "gen_ai.usage.output_tokens",
                "ai.usage.completionTokens",
                "ai.usage.outputTokens",
            ),
        ),
        "total": _first_count(attrs, ("ai.usage.tokens", "ai.usage.totalTokens")),
        "input_cached_tokens": _first_count(attrs, ("ai.usage.cachedInputTokens",)),
        "output_reasoning_tokens": _first_count(attrs, ("ai.usage.reasoningTokens",)),
    }
    for name, count in found.items():
        if count is not None:
            usage[name] = count

    provider = parse_json_object(attrs.get("ai.response.providerMetadata")) or {}
    openai = provider.get("openai")
    if type(openai) is dict:
        for source, bucket in (
            ("cachedPromptTokens", "input_cached_tokens"),
            ("acceptedPredictionTokens", "output_accepted_prediction_tokens"),
            ("rejectedPredictionTokens", "output_rejected_prediction_tokens"),
            ("reasoningTokens", "output_reasoning_tokens"),
        ):
            count = to_count(openai.get(source))
            if count is not None:
                usage[bucket] = count
    anthropic = provider.get("anthropic")
    if type(anthropic) is dict:
        nested = anthropic.get("usage")
        inner = nested if type(nested) is dict else anthropic
        for source, bucket in (
            ("cache_creation_input_tokens", "input_cache_creation"),
            ("cache_read_input_tokens", "input_cached_tokens"),
            ("cacheCreationInputTokens", "input_cache_creation"),
        ):
            count = to_count(inner.get(source))
            if count is not None:
                usage[bucket] = count
        creation = inner.get("cache_creation")
        if type(creation) is dict:
            for source, bucket in (
                ("ephemeral_5m_input_tokens", "input_cache_creation_5m"),
                ("ephemeral_1h_input_tokens", "input_cache_creation_1h"),
            ):
                count = to_count(creation.get(source))
                if count is not None:
                    usage[bucket] = count
                    if "input_cache_creation" in usage:
                        usage["input_cache_creation"] = max(usage["input_cache_creation"] - count, 0)
    bedrock = provider.get("bedrock")
    if type(bedrock) is dict and type(bedrock.get("usage")) is dict:
        for source, bucket in (
            ("cacheReadInputTokens", "input_cache_read"),
            ("cacheWriteInputTokens", "input_cache_write"),
            ("cacheCreationInputTokens", "input_cache_creation"),
        ):
            count = to_count(bedrock["usage"].get(source))
            if count is not None:
                usage[bucket] = count

    if "input" in usage:
        cached = sum(usage.get(bucket, 0) for bucket in _INPUT_CACHE_BUCKETS)
        usage["input"] = max(usage["input"] - cached, 0)
    if "output" in usage:
        usage["output"] = max(usage["output"] - usage.get("output_reasoning_tokens", 0), 0)
    return usage


def _genkit_usage(attrs: dict[str, Any]) -> dict[str, int]:
    response = parse_json_object(attrs.get("genkit:output"))
    usage_obj = response.get("usage") if response is not None else None
    if type(usage_obj) is not dict:
        return {}
    usage: dict[str, int] = {}
    thoughts = to_count(usage_obj.get("thoughtsTokens"))
    for source, bucket in (("inputTokens", "input"), ("outputTokens", "output"), ("totalTokens", "total")):
        count = to_count(usage_obj.get(source))
        if count is not None:
            usage[bucket] = count
    if thoughts is not None:
        usage["output_reasoning"] = thoughts
        if "output" in usage:
            usage["output"] = max(usage["output"] - thoughts, 0)
    return usage


def langfuse_usage(attrs: dict[str, Any]) -> dict[str, int] | None:
    """Usage from `langfuse.observation.usage_details`; None when the span has no such key."""
    raw = attrs.get(K.LF_USAGE_DETAILS)
    if raw is None:
        return None
    obj = parse_json_object(raw)
    return usage_from_object(obj) if obj is not None else {}


def provided_usage(attrs: dict[str, Any], scope_name: str, family: dict[str, Any] | None) -> dict[str, int]:
    """`family`: the span's `gen_ai.usage.X` / `llm.token_count.X` values keyed by X."""
    usage = langfuse_usage(attrs)
    if usage is not None:
        return usage
    if "genkit:output" in attrs:
        usage = _genkit_usage(attrs)
        if usage:
            return usage
    if scope_name == "ai":
        return _vercel_usage(attrs)
    return _generic_usage(attrs, scope_name, family)


def provided_cost(attrs: dict[str, Any]) -> dict[str, float]:
    raw = attrs.get(K.LF_COST_DETAILS)
    if raw is not None:
        obj = parse_json_object(raw)
        if obj is None:
            return {}
        cost: dict[str, float] = {}
        for name, value in obj.items():
            amount = to_amount(value)
            if amount is not None:
                cost[name] = amount
        return cost
    for key in ("gen_ai.usage.cost", "llm.cost.total"):
        value = attrs.get(key)
        if value is not None:
            amount = to_amount(value)
            return {"total": amount} if amount is not None else {}
    return {}


def cost_with_total(provided: dict[str, float]) -> tuple[dict[str, float], float | None]:
    """Provided costs are authoritative: `total` is the given one, else the sum of the rest.
    Amounts the cost columns cannot hold are clamped (see `clamped_costs`)."""
    if not provided:
        return {}, None
    total = provided.get("total")
    if total is None:
        total = min(sum(provided.values()), MAX_STORED_COST)
        return {**provided, "total": total}, total
    return dict(provided), total


def clamped_costs(provided: dict[str, float]) -> list[str]:
    """Clamp, in place, amounts at or beyond Decimal64(12)'s limit (10^6) to the largest storable one,
    as the legacy path does; returns the clamped keys. One absurd cost must not fail the insert
    of the whole payload it came in (an acknowledged payload)."""
    clamped = [key for key, value in provided.items() if value >= _COST_LIMIT]
    for key in clamped:
        provided[key] = MAX_STORED_COST
    return clamped
