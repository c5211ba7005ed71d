"""Single span fields with a rule of their own: name, environment, level, completion
start, prompt link, and the JSON kept for span events and links."""

from __future__ import annotations

import math
from typing import Any

from spyglass.collector.otel import keys as K
from spyglass.collector.otel.checks import MAX_TIME_NS, MIN_TIME_NS
from spyglass.collector.otel.spans import SpanEvent, SpanLink
from spyglass.collector.otel.values import (
    MISSING,
    iso_to_seconds,
    json_sorted,
    nanos_to_iso,
    normalize_environment,
    parse_json,
    parse_json_object,
    to_count,
    to_number,
    to_text,
)

MAX_PROMPT_VERSION = 65_535  # prompt_version is UInt16
_MIN_SECONDS = MIN_TIME_NS / 1e9
_MAX_SECONDS = MAX_TIME_NS / 1e9
_LEVELS = {
    "DEBUG": "DEBUG",
    "TRACE": "DEBUG",
    "VERBOSE": "DEBUG",
    "DEFAULT": "DEFAULT",
    "INFO": "DEFAULT",
    "LOG": "DEFAULT",
    "NOTICE": "DEFAULT",
    "OK": "DEFAULT",
    "SUCCESS": "DEFAULT",
    "WARNING": "WARNING",
    "WARN": "WARNING",
    "ERROR": "ERROR",
    "FATAL": "ERROR",
    "CRITICAL": "ERROR",
}
_DEPLOYMENT_NAME, _DEPLOYMENT = K.ENVIRONMENT_KEYS[1:]
SPAN_KIND_NAMES = ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
_STATUS_ERROR = 2


def observation_name(attrs: dict[str, Any], span_name: str) -> str:
    for key in ("gen_ai.tool.name", "genkit:name", "logfire.msg", "ai.toolCall.name"):
        value = attrs.get(key)
        if value:
            return to_text(value) or span_name
    operation = attrs.get("ai.operationId")
    if operation:
        function_id = attrs.get("ai.telemetry.functionId")
        return f"{function_id}:{operation}" if function_id else str(operation)
    return span_name


def span_environment(attrs: dict[str, Any], fallbacks: tuple[Any, ...], resource_environment: str | None) -> str | None:
    """`resource_environment`: the answer for a span with none of the keys
    (`environment_from({}, fallbacks)`, the same for every span of a resource)."""
    value = attrs.get(K.LF_ENVIRONMENT)
    if value:  # what every SDK span carries
        return normalize_environment(value)
    if value is None and _DEPLOYMENT_NAME not in attrs and _DEPLOYMENT not in attrs:
        return resource_environment
    return environment_from(attrs, fallbacks)


def environment_from(attrs: dict[str, Any], fallbacks: tuple[Any, ...]) -> str | None:
    """The first environment key the span, else its resource (`fallbacks`), sets."""
    for key, fallback in zip(K.ENVIRONMENT_KEYS, fallbacks, strict=True):
        value = attrs.get(key)
        if value is None or value == "":
            value = fallback
        if value is not None and value != "":
            return normalize_environment(value)
    return None


def completion_start_time(attrs: dict[str, Any], start_ns: int, only_langfuse: bool) -> float | None:
    raw = attrs.get(K.LF_COMPLETION_START_TIME)
    if raw is not None:
        seconds = _completion_start_from_text(raw)
    elif only_langfuse:
        return None
    else:
        delay_ms = to_number(attrs.get("ai.response.msToFirstChunk"))
        if delay_ms is None:
            delay_ms = to_number(attrs.get("ai.stream.msToFirstChunk"))
        if delay_ms is None or not math.isfinite(delay_ms) or delay_ms < 0:
            return None
        seconds = (start_ns // 1000 + math.ceil(delay_ms * 1000)) / 1e6
    if seconds is None or not _MIN_SECONDS <= seconds <= _MAX_SECONDS:
        return None
    return seconds


def _completion_start_from_text(raw: Any) -> float | None:
    # The SDKs send a JSON-encoded ISO string, sometimes encoded twice.
    text = raw
    for _ in range(3):
        if type(text) is not str or text[:1] != '"':
            break
        inner = text[1:-1]
        if text[-1:] == '"' and len(text) >= 2 and '"' not in inner and "\\" not in inner and inner.isprintable():
            text = inner  # no escapes or control characters: the parser's answer, without the parser
            continue
        decoded = parse_json(text)
        if decoded is MISSING:
            break
        text = decoded
    return iso_to_seconds(text) if type(text) is str else None


def span_level(attrs: dict[str, Any], status_code: int) -> str:
    declared = attrs.get(K.LF_LEVEL)
    if declared is not None:
        level = _LEVELS.get(str(declared).upper())
        if level is not None:
            return level
    return "ERROR" if status_code == _STATUS_ERROR else "DEFAULT"


def prompt_link(attrs: dict[str, Any]) -> tuple[str | None, int | None]:
    name = attrs.get(K.LF_PROMPT_NAME)
    version = attrs.get(K.LF_PROMPT_VERSION)
    if name is None:
        name = attrs.get(K.LF_LEGACY_PROMPT_NAME)
        version = attrs.get(K.LF_LEGACY_PROMPT_VERSION)
    if name is None:
        vercel = parse_json_object(attrs.get("ai.telemetry.metadata.langfusePrompt"))
        if vercel is not None:
            name, version = vercel.get("name"), vercel.get("version")
    number = to_count(version)
    if number is not None and number > MAX_PROMPT_VERSION:
        number = None
    return to_text(name), number


def events_json(events: list[SpanEvent], span_start_ns: int) -> str:
    return json_sorted(
        [
            {"name": ev.name, "time": nanos_to_iso(ev.time_ns or span_start_ns), "attributes": ev.attributes}
            for ev in events
        ]
    )


def links_json(links: list[SpanLink]) -> str:
    out = []
    for link in links:
        entry: dict[str, Any] = {"traceId": link.trace_id, "spanId": link.span_id}
        if link.trace_state:
            entry["traceState"] = link.trace_state
        entry["attributes"] = link.attributes
        out.append(entry)
    return json_sorted(out)
