"""Where a span's input and output are, across the instrumentation families Langfuse knows.

The sources are tried in upstream's order and the first that yields an input *or* an
output wins (the other side stays empty). Each result also names the attribute keys it
consumed, so they are not repeated in the `attributes` metadata.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from spyglass.collector.otel import keys as K
from spyglass.collector.otel.attribute_pass import flattened_families
from spyglass.collector.otel.spans import SpanEvent
from spyglass.collector.otel.values import json_or_none, json_sorted, parse_or_raw, text_or_json

# Rebuilding flattened messages stops here, like upstream (a guard against huge indices).
MAX_FLATTENED_INDEX = 10_000


class InputOutput(NamedTuple):
    input: str | None
    output: str | None
    used_keys: tuple[str, ...] = ()
    used_prefixes: tuple[str, ...] = ()


NOTHING = InputOutput(None, None)
_LANGFUSE_KEYS = (K.LF_INPUT, K.LF_OUTPUT)

# (input key, output key), tried in this order (upstream step 11).
_KEY_PAIRS = (
    ("mlflow.spanInputs", "mlflow.spanOutputs"),
    ("traceloop.entity.input", "traceloop.entity.output"),
    ("input.value", "output.value"),
    ("input", "output"),
)
_FLATTENED_FAMILIES = (
    ("gen_ai.prompt", "gen_ai.completion"),
    ("llm.input_messages", "llm.output_messages"),
)
_STEP_7_TO_11_KEYS = frozenset(
    {
        "gcp.vertex.agent.llm_request",
        "gcp.vertex.agent.tool_call_args",
        "gcp.vertex.agent.llm_response",
        "gcp.vertex.agent.tool_response",
        "prompt",
        "all_messages_events",
        "lk.input_text",
        "lk.user_transcript",
        "lk.chat_ctx",
        "lk.function_tool.output",
        "lk.response.text",
        "events",
        "pydantic_ai.all_messages",
        "final_result",
        "tool_arguments",
        "tool_response",
    }
    | {key for pair in _KEY_PAIRS for key in pair}
)
_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}


Flattened = dict[str, list[tuple[str, Any]]]


def resolve_io(
    attrs: dict[str, Any], events: list[SpanEvent], scope_name: str, flattened: Flattened | None
) -> InputOutput:
    """`flattened`: the span's `gen_ai.prompt.*`-style keys as grouped by the attribute pass."""
    found_in = attrs.get(K.LF_INPUT)
    found_out = attrs.get(K.LF_OUTPUT)
    if found_in is not None or found_out is not None:
        return InputOutput(json_or_none(found_in), json_or_none(found_out), _LANGFUSE_KEYS)

    if scope_name == "genkit-tracer":
        found = _genkit(attrs)
        if found:
            return found
    elif scope_name == "ai":
        return _vercel(attrs) or _gen_ai_semconv(attrs) or NOTHING
    elif scope_name == "@flue/opentelemetry":
        found = _flue(attrs)
        if found:
            return found

    if events:
        found = _from_events(events, scope_name)
        if found:
            return found

    return _from_keys(attrs, scope_name, flattened)


def _from_keys(attrs: dict[str, Any], scope_name: str, flattened: Flattened | None) -> InputOutput:
    """Upstream steps 7–13: sources that are plain span attributes."""
    # One C-level test spares most spans the dozen lookups of steps 7–11.
    if _STEP_7_TO_11_KEYS.isdisjoint(attrs):
        return _flattened(attrs, flattened) or _gen_ai_semconv(attrs) or NOTHING
    found = _vertex_adk(attrs)
    if found:
        return found
    found = _pair(attrs, "prompt", "all_messages_events")  # Logfire
    if found:
        return found
    found = _livekit(attrs)
    if found:
        return found
    found = _logfire_events(attrs)
    if found:
        return found
    for in_key, out_key in _KEY_PAIRS:
        found = _pair(attrs, in_key, out_key)
        if found:
            return found
    if scope_name == "pydantic-ai":
        found = _pydantic_ai(attrs)
        if found:
            return found
    found = _pair(attrs, "tool_arguments", "tool_response")
    if found:
        return found
    return _flattened(attrs, flattened) or _gen_ai_semconv(attrs) or NOTHING


def _pair(attrs: dict[str, Any], in_key: str, out_key: str) -> InputOutput | None:
    found_in = attrs.get(in_key)
    found_out = attrs.get(out_key)
    if found_in is None and found_out is None:
        return None
    return InputOutput(json_or_none(found_in), json_or_none(found_out), (in_key, out_key))


def _first(attrs: dict[str, Any], candidates: tuple[str, ...]) -> tuple[str | None, Any]:
    for key in candidates:
        value = attrs.get(key)
        if value is not None and value != "":
            return key, value
    return None, None


def _genkit(attrs: dict[str, Any]) -> InputOutput | None:
    raw_in = attrs.get("genkit:input")
    raw_out = attrs.get("genkit:output")
    if raw_in is None and raw_out is None:
        return None
    parsed_in = parse_or_raw(raw_in)
    parsed_out = parse_or_raw(raw_out)
    if type(parsed_in) is dict and "messages" in parsed_in:
        parsed_in = parsed_in["messages"]
    if type(parsed_out) is dict and "message" in parsed_out:
        parsed_out = parsed_out["message"]
    return InputOutput(json_or_none(parsed_in), json_or_none(parsed_out), ("genkit:input", "genkit:output"))


_VERCEL_INPUTS = ("ai.prompt.messages", "ai.prompt", "ai.toolCall.args")
_VERCEL_OUTPUTS = (
    "ai.result.text",
    "ai.toolCall.result",
    "ai.response.object",
    "ai.result.object",
    "ai.response.toolCalls",
    "ai.result.toolCalls",
)


def _vercel(attrs: dict[str, Any]) -> InputOutput | None:
    in_key, found_in = _first(attrs, _VERCEL_INPUTS)
    text = attrs.get("ai.response.text")
    tool_calls = attrs.get("ai.response.toolCalls")
    out_key: str | None
    used: tuple[str, ...]
    if text is not None and tool_calls is not None:
        found_out: Any = text_or_json({"role": "assistant", "content": text, "tool_calls": parse_or_raw(tool_calls)})
        used = ("ai.response.text", "ai.response.toolCalls")
    elif text:
        found_out, used = text, ("ai.response.text",)
    else:
        out_key, found_out = _first(attrs, _VERCEL_OUTPUTS)
        used = (out_key,) if out_key else ()
    if found_in is None and found_out is None:
        return None
    if in_key:
        used = (in_key, *used)
    return InputOutput(json_or_none(found_in), json_or_none(found_out), used)


_FLUE_INPUTS = ("flue.turn.input", "flue.tool.arguments", "flue.task.prompt", "flue.workflow.payload")
_FLUE_OUTPUTS = (
    "flue.turn.output",
    "flue.tool.result",
    "flue.task.result",
    "flue.operation.result",
    "flue.workflow.result",
)


def _flue(attrs: dict[str, Any]) -> InputOutput | None:
    in_key, found_in = _first(attrs, _FLUE_INPUTS)
    out_key, found_out = _first(attrs, _FLUE_OUTPUTS)
    if in_key is None and out_key is None:
        return None
    used = tuple(key for key in (in_key, out_key) if key)
    return InputOutput(json_or_none(found_in), json_or_none(found_out), used)


def _from_events(events: list[SpanEvent], scope_name: str) -> InputOutput | None:
    messages: list[dict[str, Any]] = []
    choices: list[dict[str, Any]] = []
    legacy: dict[str, Any] = {}
    for event in events:
        name = event.name
        if name == "gen_ai.client.inference.operation.details":
            found = _gen_ai_semconv(event.attributes)
            if found:
                return InputOutput(found.input, found.output)
        role = _MESSAGE_EVENTS.get(name)
        if role is not None:
            messages.append({"role": role, **event.attributes})
        elif name == "gen_ai.choice":
            choices.append(dict(event.attributes))
        elif name in ("gen_ai.content.prompt", "gen_ai.content.completion"):
            legacy.update(event.attributes)
    if messages or choices:
        found_out: Any = choices[0] if len(choices) == 1 else (choices or None)
        # Built from attribute maps, whose order the protobuf hot path does not keep.
        return InputOutput(
            json_sorted(messages) if messages else None,
            json_sorted(found_out) if found_out is not None else None,
        )
    if legacy:
        # Semantic Kernel before semconv 1.28 put the I/O on these two events.
        found = _from_keys(legacy, scope_name, flattened_families(legacy))
        if found.input is not None or found.output is not None:
            return InputOutput(found.input, found.output)
    return None


def _vertex_adk(attrs: dict[str, Any]) -> InputOutput | None:
    request = attrs.get("gcp.vertex.agent.llm_request")
    tool_args = attrs.get("gcp.vertex.agent.tool_call_args")
    response = attrs.get("gcp.vertex.agent.llm_response")
    tool_response = attrs.get("gcp.vertex.agent.tool_response")
    if request is None and tool_args is None and response is None and tool_response is None:
        return None
    found_in = tool_args if (request is None or request == "{}") and tool_args is not None else request
    found_out = response if response is not None else tool_response
    used = (
        "gcp.vertex.agent.llm_request",
        "gcp.vertex.agent.tool_call_args",
        "gcp.vertex.agent.llm_response",
        "gcp.vertex.agent.tool_response",
    )
    return InputOutput(json_or_none(found_in), json_or_none(found_out), used)


_LIVEKIT_INPUTS = ("lk.input_text", "lk.user_transcript", "lk.chat_ctx")
_LIVEKIT_OUTPUTS = ("lk.function_tool.output", "lk.response.text")


def _livekit(attrs: dict[str, Any]) -> InputOutput | None:
    in_key, found_in = _first(attrs, _LIVEKIT_INPUTS)
    out_key, found_out = _first(attrs, _LIVEKIT_OUTPUTS)
    if in_key is None and out_key is None:
        return None
    used = tuple(key for key in (in_key, out_key) if key)
    return InputOutput(json_or_none(found_in), json_or_none(found_out), used)


def _logfire_events(attrs: dict[str, Any]) -> InputOutput | None:
    raw = attrs.get("events")
    if raw is None:
        return None
    entries = parse_or_raw(raw)
    if type(entries) is not list:
        return None
    choices = [e for e in entries if type(e) is dict and e.get("event.name") == "gen_ai.choice"]
    rest = [e for e in entries if not (type(e) is dict and e.get("event.name") == "gen_ai.choice")]
    found_out: Any = choices[0] if len(choices) == 1 else (choices or None)
    return InputOutput(json_or_none(rest or None), json_or_none(found_out), ("events",))


def _with_system_instructions(messages: Any, instructions: Any) -> Any:
    """Prepend the system instructions as a system message unless one is already there."""
    if instructions is None:
        return messages
    parsed = parse_or_raw(messages) if messages is not None else []
    if type(parsed) is not list:
        return messages
    if any(type(m) is dict and m.get("role") == "system" for m in parsed):
        return messages
    return [{"role": "system", "content": parse_or_raw(instructions)}, *parsed]


def _pydantic_ai(attrs: dict[str, Any]) -> InputOutput | None:
    messages = attrs.get("pydantic_ai.all_messages")
    result = attrs.get("final_result")
    if messages is None and result is None:
        return None
    instructions = attrs.get("gen_ai.system_instructions")
    found_in = _with_system_instructions(messages, instructions) if messages is not None else None
    return InputOutput(
        json_or_none(found_in),
        json_or_none(result),
        ("pydantic_ai.all_messages", "final_result", "gen_ai.system_instructions"),
    )


def semconv_messages(attrs: dict[str, Any]) -> InputOutput | None:
    """Input/output from GenAI semantic-convention attributes (`gen_ai.input.messages`, ...):
    of a span, a span event or a log record alike."""
    return _gen_ai_semconv(attrs)


def _gen_ai_semconv(attrs: dict[str, Any]) -> InputOutput | None:
    messages_in = attrs.get("gen_ai.input.messages")
    messages_out = attrs.get("gen_ai.output.messages")
    if messages_in is not None or messages_out is not None:
        instructions = attrs.get("gen_ai.system_instructions")
        found_in = _with_system_instructions(messages_in, instructions)
        return InputOutput(
            json_or_none(found_in),
            json_or_none(messages_out),
            ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"),
        )
    return _pair(attrs, "gen_ai.tool.call.arguments", "gen_ai.tool.call.result")


def _flattened(attrs: dict[str, Any], buckets: Flattened | None) -> InputOutput | None:
    """`gen_ai.prompt.0.role`-style keys (Traceloop, OpenInference) rebuilt into lists; a
    whole `gen_ai.prompt` / `gen_ai.completion` value (Semantic Kernel events) is taken as is."""
    whole = attrs.get("gen_ai.prompt"), attrs.get("gen_ai.completion")
    if buckets is None and whole == (None, None):
        return None
    buckets = buckets or {}
    for in_family, out_family in _FLATTENED_FAMILIES:
        flat_in = buckets.get(in_family)
        flat_out = buckets.get(out_family)
        whole_in, whole_out = whole if in_family == "gen_ai.prompt" else (None, None)
        if flat_in is None and flat_out is None and whole_in is None and whole_out is None:
            continue
        found_in = whole_in if whole_in is not None else (unflatten(flat_in) if flat_in else None)
        found_out = whole_out if whole_out is not None else (unflatten(flat_out) if flat_out else None)
        return InputOutput(
            json_or_none(found_in),
            json_or_none(found_out),
            (in_family, out_family),
            (in_family + ".", out_family + "."),
        )
    return None


def unflatten(items: list[tuple[str, Any]]) -> Any:
    """Dotted paths → nested values; all-numeric levels become lists."""
    root: dict[str, Any] = {}
    # Sorted, so conflicting paths resolve the same way whatever order they came in.
    for path, value in sorted(items, key=_path_of):
        parts = path.split(".")
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif type(child) is not dict:
                break
            node = child
        else:
            leaf = parts[-1]
            if type(node.get(leaf)) is not dict:
                node[leaf] = value
    return _listify(root)


def _path_of(item: tuple[str, Any]) -> str:
    return item[0]


def _listify(node: dict[str, Any]) -> Any:
    """Turn levels whose keys are all array indices into lists (in place below)."""
    numeric = True
    highest = -1
    for key, value in node.items():
        if type(value) is dict:
            node[key] = _listify(value)  # replacing values while iterating is allowed
        if numeric:
            if len(key) <= 6 and key.isascii() and key.isdecimal():
                index = int(key)
                if index > highest:
                    highest = index
            else:
                numeric = False
    if not numeric or not node or highest > MAX_FLATTENED_INDEX:
        return node
    out: list[Any] = [None] * (highest + 1)
    for key, value in node.items():
        out[int(key)] = value
    return out
