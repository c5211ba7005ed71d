"""Model name and model parameters of a span (upstream §2.9 order)."""

from __future__ import annotations

from typing import Any

from spyglass.collector.otel import keys as K
from spyglass.collector.otel.values import json_sorted, parse_json_object, text_or_json, to_text

_MODEL_NAME_KEYS = (
    K.LF_MODEL_NAME,
    "gen_ai.response.model",
    "ai.model.id",
    "gen_ai.request.model",
    "llm.response.model",
    "llm.model_name",
    "model",
)
# Agent wrapper spans (`@ai-sdk/otel`) repeat their children's model and usage; counting
# them again would double the cost.
AGENT_OPERATIONS = frozenset({"invoke_agent", "agent_step"})


def model_name(attrs: dict[str, Any]) -> str | None:
    for key in _MODEL_NAME_KEYS:
        value = attrs.get(key)
        if value:
            return to_text(value)
    if attrs.get("genkit:metadata:subtype") == "model":
        return to_text(attrs.get("genkit:name"))
    return None


def _parameter_value(value: Any) -> Any:
    """Strings and numbers stay as they are, anything else becomes its JSON text."""
    if type(value) is str or type(value) is int or type(value) is float:
        return value
    return text_or_json(value)


def _all_plain(obj: dict[str, Any]) -> bool:
    for value in obj.values():
        kind = type(value)
        if kind is not str and kind is not int and kind is not float:
            return False
    return True


def _parameters(obj: dict[str, Any]) -> dict[str, Any]:
    return {key: _parameter_value(value) for key, value in obj.items() if value is not None}


def _genkit_config(attrs: dict[str, Any]) -> dict[str, Any] | None:
    request = parse_json_object(attrs.get("genkit:input"))
    if request is not None and type(request.get("config")) is dict:
        return request["config"]
    response = parse_json_object(attrs.get("genkit:output"))
    if response is not None:
        inner = response.get("request")
        if type(inner) is dict and type(inner.get("config")) is dict:
            return inner["config"]
    return None


def _vercel_parameters(attrs: dict[str, Any], explicit: dict[str, Any] | None) -> dict[str, Any]:
    provider = parse_json_object(attrs.get("ai.response.providerMetadata")) or {}
    openai = provider.get("openai")
    service_tier = openai.get("serviceTier") if type(openai) is dict else None
    finish = attrs.get("gen_ai.response.finish_reasons")
    system = attrs.get("gen_ai.system")
    candidates = {
        "maxSteps": attrs.get("ai.settings.maxSteps"),
        "toolChoice": attrs.get("ai.prompt.toolChoice"),
        "maxTokens": attrs.get("gen_ai.request.max_tokens"),
        "finishReason": finish if finish is not None else attrs.get("gen_ai.finishReason"),
        "system": system if system is not None else attrs.get("ai.model.provider"),
        "maxRetries": attrs.get("ai.settings.maxRetries"),
        "mode": attrs.get("ai.settings.mode"),
        "temperature": attrs.get("gen_ai.request.temperature"),
        "service_tier": service_tier if service_tier is not None else attrs.get("gen_ai.request.service_tier"),
    }
    params = _parameters(candidates)
    if explicit:
        params.update(_parameters(explicit))
    return params


def model_parameters(attrs: dict[str, Any], scope_name: str, family: dict[str, Any] | None) -> str | None:
    """The parameters as JSON object text, or None when the span carries none.

    `family`: the span's `gen_ai.request.X` / `llm.invocation_parameters.X` values keyed by X.
    """
    raw_explicit = attrs.get(K.LF_MODEL_PARAMETERS)
    explicit = parse_json_object(raw_explicit)
    if scope_name == "ai":
        params = _vercel_parameters(attrs, explicit)
        return text_or_json(params) if params else None
    if raw_explicit is not None:
        if explicit is None:
            return text_or_json(raw_explicit)  # not an object: kept verbatim rather than dropped
        if type(raw_explicit) is str and _all_plain(explicit):
            return raw_explicit  # already what we would write; skip re-encoding
        return text_or_json(_parameters(explicit))

    config = _genkit_config(attrs) if "genkit:input" in attrs or "genkit:output" in attrs else None
    if config is not None:
        return text_or_json(_parameters(config))

    for key in ("llm.invocation_parameters", "model_config"):
        value = attrs.get(key)
        if value is not None:
            obj = parse_json_object(value)
            if obj is not None:
                return text_or_json(_parameters(obj))

    if not family:
        return None
    collected = {
        name: _parameter_value(value) for name, value in family.items() if name != "model" and value is not None
    }
    # Gathered in attribute order, which the protobuf hot path does not keep: sort.
    return json_sorted(collected) if collected else None
