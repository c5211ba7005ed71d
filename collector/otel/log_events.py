"""Log records → EVENT observations, and GenAI log events → their observation's input/output.

A log record tied to a span becomes an EVENT observation under that span (under the trace when
it names no span): the trace tree, the read APIs and the UI show it like any event.

Current OpenTelemetry GenAI instrumentations (e.g. opentelemetry-instrumentation-openai-v2 with
message capture on) send prompts and completions as log records, not span attributes:
`gen_ai.{system,user,assistant,tool}.message` (body: content, tool calls), `gen_ai.choice` (body:
index, finish reason, message), or a single `gen_ai.client.inference.operation.details` with
`gen_ai.input.messages` / `gen_ai.output.messages` attributes. `compose_io` turns the events of
one observation into the input (the messages, in the order they were sent) and output (the
choice) that the observation shows when its span carried none.

Event ids are `{received_us}-{nonce}-{index}` of the raw payload and the record's position in
it: a replay writes the same ids, and sorting them gives the order the exporter sent them in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from spyglass.collector.otel.inputs_outputs import semconv_messages
from spyglass.collector.otel.logs import LogRecord
from spyglass.collector.otel.values import json_or_none, map_value, parse_or_raw
from spyglass.store.clickhouse.rows import ObservationRow

EVENT = "EVENT"
GENAI_PREFIX = "gen_ai."
_DETAILS = "gen_ai.client.inference.operation.details"
_CHOICE = "gen_ai.choice"
# Shown as the event's input/output, not repeated in its metadata.
_MESSAGE_ATTRIBUTES = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")
_MESSAGE_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
# A message without any of these says only its role (message capture is off): not an input.
_MESSAGE_PAYLOAD = ("content", "tool_calls", "parts")


def log_event_stem(raw_key: str) -> str:
    """`{received_us}-{nonce}` of a raw-log key (event ids start with it)."""
    name = raw_key.rsplit("/", 1)[-1]
    return name.split(".", 1)[0]


def is_genai_event(name: str) -> bool:
    return name in _MESSAGE_ROLES or name == _CHOICE or name == _DETAILS


def _level(severity: int) -> str:
    # OTLP severity numbers: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-24 ERROR/FATAL.
    if severity >= 17:
        return "ERROR"
    if severity >= 13:
        return "WARNING"
    if 1 <= severity <= 8:
        return "DEBUG"
    return "DEFAULT"


def event_row(record: LogRecord, event_id: str, project_id: str, received_at: float) -> ObservationRow:
    """The EVENT observation of one log record."""
    attrs = record.attributes
    input_value: Any = record.body
    output_value: Any = None
    if record.name == _CHOICE:
        input_value, output_value = None, record.body
    elif record.name == _DETAILS:
        found = semconv_messages(attrs)
        input_value = output_value = None
        if found is not None:
            # Already JSON text: kept as it is (json_or_none leaves a str alone).
            input_value, output_value = found.input, found.output
    metadata = {key: map_value(value) for key, value in attrs.items() if key not in _MESSAGE_ATTRIBUTES}
    if record.severity_text:
        metadata["log.severity"] = record.severity_text
    if record.service_name:
        metadata["service.name"] = record.service_name
    if record.scope_name:
        metadata["log.scope"] = record.scope_name
    start = record.time_ns / 1e9 if record.time_ns else received_at
    return ObservationRow(
        id=event_id,
        trace_id=record.trace_id,
        project_id=project_id,
        type=EVENT,
        parent_observation_id=record.span_id or None,
        start_time=start,
        end_time=start,
        name=record.name or record.severity_text or "log",
        metadata=metadata,
        level=_level(record.severity_number),
        input=json_or_none(input_value),
        output=json_or_none(output_value),
        created_at=received_at,
        updated_at=received_at,
        event_ts=received_at,
    )


def _has_payload(message: Any) -> bool:
    return isinstance(message, dict) and any(message.get(key) for key in _MESSAGE_PAYLOAD)


def compose_io(events: Iterable[ObservationRow]) -> tuple[str | None, str | None]:
    """(input, output) as JSON text from one observation's GenAI events; None where the events
    say nothing (no capture, or no event of that side)."""
    messages: list[Any] = []
    choices: list[tuple[int, dict[str, Any]]] = []
    details_in: str | None = None
    details_out: str | None = None
    for event in sorted(events, key=lambda e: e.id):
        role = _MESSAGE_ROLES.get(event.name)
        if role is not None:
            body = parse_or_raw(event.input)
            message = {"role": role, **body} if isinstance(body, dict) else {"role": role, "content": body}
            if _has_payload(message):
                messages.append(message)
        elif event.name == _CHOICE:
            body = parse_or_raw(event.output)
            choice = body.get("message") if isinstance(body, dict) else None
            if isinstance(choice, dict) and _has_payload(choice):
                index = body.get("index")
                choices.append((index if isinstance(index, int) else len(choices), {"role": "assistant", **choice}))
        elif event.name == _DETAILS:
            details_in = event.input if event.input is not None else details_in
            details_out = event.output if event.output is not None else details_out
    input_text = json_or_none(messages) if messages else details_in
    if choices:
        ordered = [message for _, message in sorted(choices, key=lambda c: c[0])]
        output_text = json_or_none(ordered[0] if len(ordered) == 1 else ordered)
    else:
        output_text = details_out
    return input_text, output_text
