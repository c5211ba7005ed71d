"""Tool definitions and tool calls of an observation, for the `tool_*` columns.

Upstream's rules (packages/shared/src/server/ingestion/extractToolsBackend.ts), shared by the
OTel mapper and the legacy ingestion merge:

* Definitions come from the input (`tools`, `messages[].tools`, LangGraph's role "tool" message
  whose content is a function definition). Definitions that instrumentations put elsewhere —
  `metadata.tools` and the span attributes `ai.prompt.tools` (Vercel), `gen_ai.tool.definitions`
  (OTel GenAI), `model_request_parameters.function_tools` (pydantic-ai) and
  `llm.tools.N.tool.json_schema` (OpenInference) — are first *moved* into the input (`{messages,
  tools}`, `{prompt, tools}`, or the object's own `tools`) and removed from the metadata, so the
  input shows what the model was offered. Deduplicated by name, first wins.
* Calls come from the output only: `tool_calls`/`toolCalls`, `choices[].message.tool_calls`,
  `additional_kwargs.tool_calls`, Anthropic `tool_use` / AI SDK `tool-call` content parts, and
  message or bare-call lists. Deduplicated by id.
* Stored as name → JSON `{description, parameters}` (parameters itself JSON text, as upstream
  does), calls as JSON `{id, arguments, type, index}` with the names in a parallel array.

The mapper calls this for every span, so each entry point first does a substring test on the
raw text and only parses JSON when a tool could be there. JavaScript's truthiness and `??` are
reproduced where upstream relies on them (an empty list is truthy there, 0 is not).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

import msgspec

from spyglass.collector.otel.values import MISSING, parse_json

_encode = msgspec.json.encode

# Span attributes (kept in the `attributes` metadata) that carry tool definitions.
TOOL_ATTRIBUTE_KEYS = frozenset({"ai.prompt.tools", "gen_ai.tool.definitions", "model_request_parameters"})
_INDEXED_TOOL_PREFIX = "llm.tools."
_INDEXED_TOOL_KEY = re.compile(r"llm\.tools\.([0-9]+)\.tool\.json_schema")
# Upstream parses a string `attributes` metadata value only when one of the keys is in it.
_TOOL_ATTRIBUTE_IN_TEXT = re.compile(
    r'"(?:ai\.prompt\.tools|gen_ai\.tool\.definitions|model_request_parameters|llm\.tools\.[0-9]+\.tool\.json_schema)"\s*:'
)
_FLAT_CALL_TYPES = frozenset({"function", "function_call", "tool-call", "tool_use"})
_MESSAGE_KEYS = ("role", "content", "tool_calls", "additional_kwargs")
# The hot path's only cost when there are no tools: one scan per text, no parse. A regex is
# used even for a plain substring: its search skips to each `"` (rare in message text) in C,
# about twice as fast on 2 KB prompts as `in`, which steps through every character.
_JSON_STARTS = frozenset('{["')
# Every input source has a `"tools"` key or a `"tool"` role (double-encoded: `\"tools\"`).
_find_definition_marker = re.compile('"tool').search
# Every output shape has a key or type starting with `"tool` (tool_calls, toolCalls, toolName,
# tool_use, tool-call) or is a bare call with `"arguments"`.
_find_call_marker = re.compile('"(?:tool|arguments)').search


def is_tool_attribute(key: str) -> bool:
    """True for the span attribute keys that carry tool definitions."""
    if key in TOOL_ATTRIBUTE_KEYS:
        return True
    return key.startswith(_INDEXED_TOOL_PREFIX) and _INDEXED_TOOL_KEY.fullmatch(key) is not None


class ToolColumns(NamedTuple):
    definitions: dict[str, str]
    calls: list[str]
    call_names: list[str]


class MovedTools(NamedTuple):
    """Definitions moved out of the metadata into the input."""

    input: str
    # The same input, decoded: extraction reads it instead of parsing the text again.
    parsed_input: Any
    drop_metadata_tools: bool
    # The attributes without the consumed keys; None when no attribute was consumed.
    attributes: dict[str, Any] | None


# --- JavaScript semantics -------------------------------------------------------------------


def _truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if type(value) is str:
        return value != ""
    if type(value) is int or type(value) is float:
        return value != 0 and value == value
    return True


def _js_string(value: Any) -> str:
    """String(value) for the values a name can be (used as a map key and an array element)."""
    if type(value) is str:
        return value
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is float and value.is_integer():
        return str(int(value))
    if type(value) is int or type(value) is float:
        return str(value)
    return _encode(value).decode()


def _json(value: Any) -> str:
    return _encode(value).decode()


def _first(*values: Any) -> Any:
    """`a ?? b ?? c`."""
    for value in values:
        if value is not None:
            return value
    return None


def _parse_if_string(value: Any) -> Any:
    if type(value) is str:
        parsed = parse_json(value)
        return value if parsed is MISSING else parsed
    return value


def _array(value: Any) -> list[Any] | None:
    """A list, or a string holding a JSON list; None otherwise."""
    if type(value) is list:
        return value
    if type(value) is str:
        parsed = parse_json(value)
        if type(parsed) is list:
            return parsed
    return None


def _read_text(text: str | None) -> Any:
    """A stored input/output text as upstream sees it: decoded, and a decoded string tried once
    more (upstream's extraction parses string values itself)."""
    if text is None:
        return None
    value = parse_json(text)
    if value is MISSING:
        return text
    return _parse_if_string(value)


# --- definitions ----------------------------------------------------------------------------


def _definition_fields(tool: Any) -> tuple[Any, Any, Any] | None:
    """(name, description, parameters) of a flat `{name, …}` or nested `{function: {name, …}}`
    definition; None when it has no name."""
    if type(tool) is str:
        tool = parse_json(tool)
    if type(tool) is not dict:
        return None
    nested = tool.get("function")
    data = tool if nested is None else nested
    if type(data) is not dict or not _truthy(data.get("name")):
        return None
    return (
        data["name"],
        _first(data.get("description"), data.get("desc")),
        _first(data.get("parameters"), data.get("parameters_json_schema"), data.get("inputSchema")),
    )


def _add_definition(found: dict[str, tuple[Any, str | None]], tool: Any) -> None:
    fields = _definition_fields(tool)
    if fields is None:
        return
    name, description, parameters = fields
    key = _js_string(name)
    if key not in found:
        found[key] = (description, _json(parameters) if _truthy(parameters) else None)


def _definitions_from_input(value: Any, found: dict[str, tuple[Any, str | None]]) -> None:
    if type(value) is list:
        value = {"messages": value}
    elif type(value) is not dict:
        return
    tools = value.get("tools")
    if type(tools) is list:
        for tool in tools:
            _add_definition(found, tool)
    messages = value.get("messages")
    if type(messages) is list:
        for message in messages:
            if type(message) is not dict:
                continue
            tools = message.get("tools")
            if type(tools) is list:
                for tool in tools:
                    _add_definition(found, tool)
            # LangGraph puts a definition in a role "tool" message's content.
            content = message.get("content")
            if (
                message.get("role") == "tool"
                and type(content) is dict
                and content.get("type") == "function"
                and _truthy(content.get("function"))
            ):
                _add_definition(found, content)


# --- calls ----------------------------------------------------------------------------------


class _Call(NamedTuple):
    id: Any
    name: Any
    arguments: str
    type: Any
    index: Any


def _add_call(found: list[_Call], call: Any) -> None:
    if type(call) is not dict:
        return
    function = call.get("function")
    nested = function if type(function) is dict else None
    name = _first(nested.get("name") if nested else None, call.get("name"), call.get("toolName"))
    if not _truthy(name):
        return
    raw_args = _first(
        nested.get("arguments") if nested else None, call.get("arguments"), call.get("args"), call.get("input")
    )
    arguments = raw_args if type(raw_args) is str else _json(raw_args if raw_args is not None else {})
    call_type = call.get("type")
    if call_type is None and _truthy(function):
        call_type = "function"
    call_id = _first(call.get("id"), call.get("toolCallId"), call.get("call_id"), "")
    found.append(_Call(call_id, name, arguments, call_type, call.get("index")))


def _add_calls(found: list[_Call], calls: list[Any] | None) -> None:
    if calls:
        for call in calls:
            _add_call(found, call)


def _calls_from_content(found: list[_Call], content: Any) -> None:
    if type(content) is not list:
        return
    for part in content:
        if type(part) is not dict:
            continue
        kind = part.get("type")
        if kind == "tool_use":
            input_value = part.get("input")
            _add_call(
                found,
                {
                    "id": part.get("id"),
                    "name": part.get("name"),
                    "arguments": _json(input_value if input_value is not None else {}),
                    "type": "tool_use",
                },
            )
        elif kind == "tool-call":
            _add_call(found, part)


def _calls_from_message(found: list[_Call], message: dict[str, Any]) -> None:
    _add_calls(found, _first(_array(message.get("tool_calls")), _array(message.get("toolCalls"))))
    _calls_from_content(found, message.get("content"))


def _is_call_like(item: dict[str, Any]) -> bool:
    """A model-requested call in a bare list (not a definition, not a tool result)."""
    kind = item.get("type")
    if kind == "tool-result":
        return False
    name = item.get("name")
    function = item.get("function")
    if type(function) is dict and _truthy(function.get("name")) and "arguments" in function:
        return True
    if _truthy(item.get("toolName")) and (kind == "tool-call" or "input" in item or "args" in item):
        return True
    if _truthy(item.get("call_id")) and _truthy(name) and "arguments" in item:
        return True
    if kind == "tool_use" and _truthy(name) and "input" in item:
        return True
    marker = "id" in item or "index" in item or (type(kind) is str and kind in _FLAT_CALL_TYPES)
    return _truthy(name) and "arguments" in item and marker


def _calls_from_output(value: Any, found: list[_Call]) -> None:
    if type(value) is list:
        for item in value:
            if type(item) is not dict:
                continue
            if _is_call_like(item) and not any(key in item for key in _MESSAGE_KEYS):
                _add_call(found, item)
            else:
                _calls_from_message(found, item)
        return
    if type(value) is not dict:
        return
    _add_calls(found, _first(_array(value.get("tool_calls")), _array(value.get("toolCalls"))))
    choices = value.get("choices")
    if type(choices) is list:
        for choice in choices:
            message = choice.get("message") if type(choice) is dict else None
            if type(message) is dict:
                _add_calls(found, _first(_array(message.get("tool_calls")), _array(message.get("toolCalls"))))
    _calls_from_content(found, value.get("content"))
    kwargs = value.get("additional_kwargs")
    if type(kwargs) is dict:
        _add_calls(found, _array(kwargs.get("tool_calls")))


# --- columns --------------------------------------------------------------------------------


def _may_hold(text: str | None, marker: Callable[[str], object]) -> bool:
    """Could the text hold a tool? Only JSON text (or a JSON string holding JSON) can, so `a
    short answer` is not even scanned; the marker is the one scan over the text."""
    if not text:
        return False
    first = text[0]
    return (first in _JSON_STARTS or first.isspace()) and marker(text) is not None


def tool_columns(input_text: str | None, output_text: str | None, parsed_input: Any = MISSING) -> ToolColumns | None:
    """The tool columns of a stored input/output; None when neither defines nor calls a tool.

    `parsed_input`: the input already decoded (after `move_metadata_tools`), to skip a parse.
    """
    definitions: dict[str, tuple[Any, str | None]] = {}
    calls: list[_Call] = []
    if parsed_input is not MISSING:
        _definitions_from_input(parsed_input, definitions)
    elif _may_hold(input_text, _find_definition_marker):
        _definitions_from_input(_read_text(input_text), definitions)
    if _may_hold(output_text, _find_call_marker):
        _calls_from_output(_read_text(output_text), calls)
    if not definitions and not calls:
        return None

    definition_map = {
        name: _json({"description": description if description is not None else "", "parameters": parameters or ""})
        for name, (description, parameters) in definitions.items()
    }
    call_texts: list[str] = []
    call_names: list[str] = []
    seen: set[str] = set()
    for call in calls:
        key = _js_string(call.id) if _truthy(call.id) else f"{_js_string(call.name)}-{call.arguments}"
        if key in seen:
            continue
        seen.add(key)
        call_names.append(_js_string(call.name))
        call_texts.append(
            _json(
                {
                    "id": call.id,
                    "arguments": call.arguments,
                    "type": call.type if call.type is not None else "",
                    "index": call.index if call.index is not None else 0,
                }
            )
        )
    return ToolColumns(definition_map, call_texts, call_names)


# --- definitions kept in metadata -----------------------------------------------------------


def _entry_like(tool: Any, provider_tools: bool) -> bool:
    tool = _parse_if_string(tool)
    if type(tool) is not dict:
        return False
    if _definition_fields(tool) is not None:
        return True
    # Vercel's provider tools (`{type: "provider-defined", id, args}`) may have no name.
    return provider_tools and type(tool.get("type")) is str


def _tool_array(value: Any, *, every_item: bool, provider_tools: bool) -> list[Any] | None:
    """The definitions of a list (or JSON list text); None when it is not a list of them.
    An empty list is `[]` (it still counts as consumed, as upstream)."""
    items = _array(value)
    if items is None:
        return None
    items = [_parse_if_string(item) for item in items]
    if not items:
        return []
    liked = [item for item in items if _entry_like(item, provider_tools)]
    if every_item and len(liked) != len(items):
        return None
    return liked or None


def _dedupe(tools: list[Any]) -> list[Any]:
    seen: set[str] = set()
    kept: list[Any] = []
    for tool in tools:
        fields = _definition_fields(tool)
        if fields is not None:
            name = _js_string(fields[0])
            if name in seen:
                continue
            seen.add(name)
        kept.append(tool)
    return kept


def metadata_attributes(value: str | None) -> dict[str, Any] | None:
    """A metadata `attributes` text as a dict, only when it may hold tool definitions."""
    if value is None or _TOOL_ATTRIBUTE_IN_TEXT.search(value) is None:
        return None
    parsed = parse_json(value)
    return parsed if type(parsed) is dict else None


def _tools_from_attributes(attributes: dict[str, Any], tools: list[Any]) -> dict[str, Any] | None:
    """Append the attributes' definitions to `tools`; the attributes without them, or None when
    none was consumed."""
    cleaned = dict(attributes)
    changed = False
    for key, provider_tools in (("ai.prompt.tools", True), ("gen_ai.tool.definitions", False)):
        found = _tool_array(attributes.get(key), every_item=True, provider_tools=provider_tools)
        if found is not None:
            tools.extend(found)
            del cleaned[key]
            changed = True

    raw = attributes.get("model_request_parameters")
    parameters = _parse_if_string(raw)
    if type(parameters) is dict:
        found = _tool_array(parameters.get("function_tools"), every_item=True, provider_tools=False)
        rest = dict(parameters)
        if found is not None:
            tools.extend(found)
            del rest["function_tools"]
            cleaned["model_request_parameters"] = _json(rest) if type(raw) is str else rest
            changed = True
        if not rest:
            del cleaned["model_request_parameters"]
            changed = True

    indexed = []
    for key in attributes:
        if key.startswith(_INDEXED_TOOL_PREFIX) and (match := _INDEXED_TOOL_KEY.fullmatch(key)):
            indexed.append((int(match.group(1)), key))
    indexed.sort(key=lambda entry: entry[0])
    for _, key in indexed:
        tool = _parse_if_string(attributes[key])
        if _entry_like(tool, provider_tools=False):
            tools.append(tool)
            del cleaned[key]
            changed = True
    return cleaned if changed else None


def _merge_into_input(input_text: str | None, tools: list[Any]) -> Any:
    """The input with the definitions added, or MISSING when its shape cannot take them."""
    value = None if input_text is None else _read_text(input_text)
    if type(value) is list:
        return {"messages": value, "tools": tools}
    if type(value) is dict:
        existing = value.get("tools")
        if existing is None:
            return {**value, "tools": tools}
        existing_tools = _tool_array(existing, every_item=False, provider_tools=True)
        if existing_tools is None:
            return MISSING
        return {**value, "tools": _dedupe(existing_tools + tools)}
    if value is None:
        return {"tools": tools}
    if type(value) is str:
        return {"prompt": value, "tools": tools}
    return MISSING


def move_metadata_tools(
    input_text: str | None, metadata_tools: Any, attributes: dict[str, Any] | None
) -> MovedTools | None:
    """Definitions found in `metadata.tools` and the span attributes, merged into the input.

    None when there are none or the input cannot take them (a number, or an object whose own
    `tools` is not a list of definitions): then nothing changes, as upstream.
    """
    tools: list[Any] = []
    metadata_list = _tool_array(metadata_tools, every_item=True, provider_tools=False)
    drop_metadata_tools = bool(metadata_list)
    if metadata_list:
        tools.extend(metadata_list)
    cleaned = _tools_from_attributes(attributes, tools) if attributes else None
    tools = _dedupe(tools)
    if not tools:
        return None
    merged = _merge_into_input(input_text, tools)
    if merged is MISSING:
        return None
    return MovedTools(_json(merged), merged, drop_metadata_tools, cleaned)


def apply_moved_metadata(metadata: dict[str, str], moved: MovedTools) -> None:
    """Remove what `move_metadata_tools` consumed from a metadata map (attributes stay JSON text,
    keys sorted as the mapper writes them)."""
    if moved.drop_metadata_tools:
        metadata.pop("tools", None)
    if moved.attributes is not None:
        if moved.attributes:
            metadata["attributes"] = _encode(moved.attributes, order="sorted").decode()
        else:
            metadata.pop("attributes", None)
