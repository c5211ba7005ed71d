"""Which Langfuse observation type a span is (upstream's priority order, first match wins)."""

from __future__ import annotations

from typing import Any

from spyglass.collector.otel import keys as K

OBSERVATION_TYPES = frozenset(
    {
        "SPAN",
        "GENERATION",
        "EVENT",
        "AGENT",
        "TOOL",
        "CHAIN",
        "RETRIEVER",
        "EVALUATOR",
        "EMBEDDING",
        "GUARDRAIL",
    }
)
# Types whose rows keep the prompt link (upstream strips it from SPAN and EVENT).
GENERATION_LIKE = OBSERVATION_TYPES - {"SPAN", "EVENT"}

_OPENINFERENCE_KINDS = {
    "LLM": "GENERATION",
    "CHAIN": "CHAIN",
    "RETRIEVER": "RETRIEVER",
    "EMBEDDING": "EMBEDDING",
    "AGENT": "AGENT",
    "TOOL": "TOOL",
    "GUARDRAIL": "GUARDRAIL",
    "EVALUATOR": "EVALUATOR",
}
_GEN_AI_OPERATIONS = {
    "chat": "GENERATION",
    "completion": "GENERATION",
    "text_completion": "GENERATION",
    "generate_content": "GENERATION",
    "generate": "GENERATION",
    "embeddings": "EMBEDDING",
    "invoke_agent": "AGENT",
    "create_agent": "AGENT",
    "execute_tool": "TOOL",
}
_GENKIT_SUBTYPES = {
    "model": "GENERATION",
    "background-model": "GENERATION",
    "embedder": "EMBEDDING",
    "tool": "TOOL",
    "tool.v2": "TOOL",
    "retriever": "RETRIEVER",
    "evaluator": "EVALUATOR",
}
_VERCEL_MODEL_OPERATIONS = (
    ("ai.generateText.doGenerate", "GENERATION"),
    ("ai.streamText.doStream", "GENERATION"),
    ("ai.generateObject.doGenerate", "GENERATION"),
    ("ai.streamObject.doStream", "GENERATION"),
    ("ai.embedMany.doEmbed", "EMBEDDING"),
    ("ai.embed.doEmbed", "EMBEDDING"),
)
_VERCEL_MODEL_KEYS = (K.LF_MODEL_NAME, "ai.model.id", "gen_ai.request.model", "gen_ai.response.model")
_FALLBACK_MODEL_KEYS = (
    K.LF_MODEL_NAME,
    "gen_ai.request.model",
    "gen_ai.response.model",
    "llm.model_name",
    "model",
)
# Generation-only keys that py SDK ≤ 3.3 wrote on spans it typed "span" by mistake.
_OLD_SDK_GENERATION_KEYS = (
    K.LF_MODEL_NAME,
    K.LF_COST_DETAILS,
    K.LF_USAGE_DETAILS,
    K.LF_COMPLETION_START_TIME,
    K.LF_MODEL_PARAMETERS,
    K.LF_PROMPT_NAME,
    K.LF_PROMPT_VERSION,
)


def _lower(value: Any) -> str:
    return value.lower() if type(value) is str else str(value).lower()


def _vercel_operation(attrs: dict[str, Any]) -> str | None:
    operation_id = attrs.get("ai.operationId")
    operation_name = attrs.get("operation.name")
    if type(operation_name) is not str:
        operation_name = ""
    for prefix, observation_type in _VERCEL_MODEL_OPERATIONS:
        if operation_id == prefix or operation_name.startswith(prefix):
            return observation_type
    return None


def infer_observation_type(attrs: dict[str, Any], span_name: str, scope_name: str, old_python_sdk: bool) -> str:
    declared = attrs.get(K.LF_TYPE)
    if declared is not None:
        declared_type = _lower(declared).upper()
        if declared_type in OBSERVATION_TYPES:
            if declared_type == "SPAN" and old_python_sdk and any(k in attrs for k in _OLD_SDK_GENERATION_KEYS):
                return "GENERATION"
            return declared_type

    kind = attrs.get("openinference.span.kind")
    if kind is not None:
        found = _OPENINFERENCE_KINDS.get(_lower(kind).upper())
        if found:
            return found

    operation = attrs.get(K.GEN_AI_OPERATION)
    if operation is not None:
        found = _GEN_AI_OPERATIONS.get(_lower(operation))
        if found:
            return found

    subtype = attrs.get("genkit:metadata:subtype")
    if subtype is not None:
        found = _GENKIT_SUBTYPES.get(_lower(subtype))
        if found:
            return found

    if "ai.operationId" in attrs or "operation.name" in attrs:
        if any(attrs.get(k) for k in _VERCEL_MODEL_KEYS):
            found = _vercel_operation(attrs)
            if found:
                return found
        operation_name = attrs.get("operation.name")
        if attrs.get("ai.operationId") == "ai.toolCall" or (
            type(operation_name) is str and operation_name.startswith("ai.toolCall")
        ):
            return "TOOL"

    if "gen_ai.tool.name" in attrs or "gen_ai.tool.call.id" in attrs:
        return "TOOL"

    if "flue.tool.name" in attrs or "flue.tool.call_id" in attrs:
        return "TOOL"
    if "flue.task.id" in attrs or "flue.task.agent" in attrs:
        return "AGENT"

    if scope_name == "livekit-agents":
        if span_name in ("agent_turn", "start_agent_activity"):
            return "AGENT"
        if span_name == "function_tool":
            return "TOOL"

    for key in _FALLBACK_MODEL_KEYS:
        if attrs.get(key):
            return "GENERATION"
    return "SPAN"
