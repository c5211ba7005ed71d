"""Fold the events of one entity into the row to write (traces, observations, scores).

Each function takes the stored row (or None), the entity's events and the caller's ``version_ts``,
and returns the complete new row. Nothing here reads a clock or a random source: the same inputs
give the same row, so replaying a payload rewrites identical rows.

Rules (after Langfuse's worker merge):

* Events apply in :func:`merge_order` (envelope time; creates before updates on a tie).
* A later value replaces an earlier one, except that null/absent values and empty objects never
  replace anything. ``input``/``output`` are simply the last non-null value.
* ``metadata`` is deep-merged and ``tags`` become the sorted union (see ``columns``).
* First write wins for the identity keys: id, project_id, created_at, environment; trace_id and
  type for observations; trace_id for scores.
* The entity's time (trace ``timestamp``, observation ``start_time``, score ``timestamp``) is
  first-write too, with one refinement. A time the client stated in the body is *explicit*; the
  envelope time used when it did not is a *placeholder*. Explicit times beat placeholders, and an
  explicit time earlier than the stored one replaces it. This is what lets a create that arrives
  after its update (whose envelope time became the placeholder start) put the real start in
  place: an update is always sent after the observation started, so its placeholder is never
  earlier than the real start, and a real start is never moved later. Readers take the newest
  version of an id, so a row whose day (part of the sort key) moved is not seen twice.
* An observation's ``type`` comes from the first create; an update that arrives first supplies it
  from its own event type (``generation-update`` → GENERATION) until then. A stored type is never
  changed (it is part of the table's sort key).
* An observation without any traceId (SDK < 2) gets its own id as trace id — see
  :func:`needs_wrapper_trace`. A later event that does name a trace replaces that placeholder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from spyglass.collector.events.bodies import GenerationBody, ScoreBody, TraceBody
from spyglass.collector.events.columns import io_text, json_encoded, merge_metadata
from spyglass.collector.events.envelopes import (
    ObservationEvent,
    ScoreCreate,
    TraceCreate,
    observation_type,
)
from spyglass.collector.events.grouping import merge_order
from spyglass.collector.events.normalize import epoch_seconds
from spyglass.collector.otel.tool_calls import (
    MISSING,
    apply_moved_metadata,
    metadata_attributes,
    move_metadata_tools,
    tool_columns,
)
from spyglass.collector.pricing import provided_usage
from spyglass.store.clickhouse.rows import ObservationRow, ScoreRow, TraceRow

T = TypeVar("T")


def _last(values: Iterable[T | None], fallback: T) -> T:
    """The last non-None value, else ``fallback``."""
    found = fallback
    for value in values:
        if value is not None:
            found = value
    return found


def _entity_time(stored: float | None, explicit: list[float], placeholders: list[float]) -> float:
    if stored is not None:
        return min([stored, *explicit])
    return min(explicit or placeholders)


def _tags(stored: Iterable[str], bodies: Iterable[TraceBody]) -> list[str]:
    tags = set(stored)
    for body in bodies:
        if body.tags:
            tags.update(body.tags)
    return sorted(tags)


def _check(events: Sequence[object], existing: object | None, what: str) -> None:
    if not events and existing is None:
        raise ValueError(f"{what}: needs at least one event or an existing row")


def merge_trace(
    existing: TraceRow | None, events: Sequence[TraceCreate], project_id: str, version_ts: float
) -> TraceRow:
    _check(events, existing, "merge_trace")
    ordered = merge_order(events)
    bodies = [event.body for event in ordered]
    base = existing or TraceRow(id=str(bodies[0].id), project_id=project_id, timestamp=0.0)
    timestamp = _entity_time(
        existing.timestamp if existing else None,
        [epoch_seconds(body.timestamp) for body in bodies if body.timestamp is not None],
        [epoch_seconds(event.timestamp) for event in ordered],
    )
    return TraceRow(
        id=base.id,
        project_id=base.project_id,
        timestamp=timestamp,
        name=_last((body.name for body in bodies), base.name),
        user_id=_last((body.user_id for body in bodies), base.user_id),
        session_id=_last((body.session_id for body in bodies), base.session_id),
        release=_last((body.release for body in bodies), base.release),
        version=_last((body.version for body in bodies), base.version),
        environment=base.environment if existing else str(bodies[0].environment),
        metadata=merge_metadata(base.metadata, (body.metadata for body in bodies)),
        tags=_tags(base.tags, bodies),
        public=_last((body.public for body in bodies), base.public),
        bookmarked=base.bookmarked,
        input=_last((io_text(body.input) for body in bodies), base.input),
        output=_last((io_text(body.output) for body in bodies), base.output),
        created_at=existing.created_at if existing else version_ts,
        updated_at=version_ts,
        event_ts=version_ts,
        is_deleted=0,
    )


def merge_observation(
    existing: ObservationRow | None,
    events: Sequence[ObservationEvent],
    project_id: str,
    version_ts: float,
) -> ObservationRow:
    _check(events, existing, "merge_observation")
    ordered = merge_order(events)
    bodies = [event.body for event in ordered]
    generations = [body for body in bodies if isinstance(body, GenerationBody)]
    if existing is not None:
        base = existing
        obs_type = existing.type
    else:
        first_create = next((event for event in ordered if not event.is_update), ordered[0])
        base = ObservationRow(id=str(bodies[0].id), trace_id="", project_id=project_id)
        obs_type = observation_type(first_create)

    named_trace = next((body.trace_id for body in bodies if body.trace_id), None)
    if existing is not None and existing.trace_id and existing.trace_id != existing.id:
        trace_id = existing.trace_id
    else:
        trace_id = named_trace or base.id

    start_time = _entity_time(
        existing.start_time if existing else None,
        [epoch_seconds(body.start_time) for body in bodies if body.start_time is not None],
        [epoch_seconds(event.timestamp) for event in ordered],
    )
    end_time = _last(
        (epoch_seconds(end) for body in bodies if (end := getattr(body, "end_time", None)) is not None),
        base.end_time,
    )
    if end_time is not None and end_time < start_time:
        end_time = start_time
    completion_start_time = _last(
        (epoch_seconds(body.completion_start_time) for body in generations if body.completion_start_time),
        base.completion_start_time,
    )

    # Provided usage/cost of each event, normalized by the pricing package (legacy `usage`
    # {input, output, total}, total = input + output unless a total or usageDetails says
    # otherwise, overlaid by `usageDetails`; costs likewise). An event that provides none leaves
    # the previous map in place; one that does replaces it whole.
    provided = [provided_usage(body.usage, body.usage_details, body.cost_details) for body in generations]
    usage = _last((each.usage_details or None for each in provided), None)
    cost = _last((each.cost_details or None for each in provided), None)
    prompt = _last(
        ((body.prompt_name, body.prompt_version) for body in generations if body.prompt_name and body.prompt_version),
        (base.prompt_name, base.prompt_version),
    )
    keep_prompt_id = existing is not None and prompt == (existing.prompt_name, existing.prompt_version)

    row = ObservationRow(
        id=base.id,
        trace_id=trace_id,
        project_id=base.project_id,
        type=obs_type,
        parent_observation_id=_last((body.parent_observation_id for body in bodies), base.parent_observation_id),
        environment=base.environment if existing else str(bodies[0].environment),
        start_time=start_time,
        end_time=end_time,
        completion_start_time=completion_start_time,
        name=_last((body.name for body in bodies), base.name),
        metadata=merge_metadata(base.metadata, (body.metadata for body in bodies)),
        level=_last((body.level for body in bodies), base.level) or "DEFAULT",
        status_message=_last((body.status_message for body in bodies), base.status_message),
        version=_last((body.version for body in bodies), base.version),
        input=_last((io_text(body.input) for body in bodies), base.input),
        output=_last((io_text(body.output) for body in bodies), base.output),
        provided_model_name=_last((body.model for body in generations), base.provided_model_name),
        internal_model_id=None,  # the pricing step matches the model again on every write
        model_parameters=_last(
            (json_encoded(body.model_parameters) for body in generations if body.model_parameters),
            base.model_parameters,
        ),
        provided_usage_details=usage if usage is not None else base.provided_usage_details,
        usage_details=usage if usage is not None else base.usage_details,
        provided_cost_details=cost if cost is not None else base.provided_cost_details,
        cost_details=cost if cost is not None else base.cost_details,
        total_cost=cost.get("total") if cost is not None else base.total_cost,
        prompt_id=base.prompt_id if keep_prompt_id else None,  # resolved from Postgres by the worker
        prompt_name=prompt[0],
        prompt_version=prompt[1],
        usage_pricing_tier_id=None,
        usage_pricing_tier_name=None,
        tool_definitions=base.tool_definitions,
        tool_calls=base.tool_calls,
        tool_call_names=base.tool_call_names,
        otel_events=base.otel_events,
        otel_links=base.otel_links,
        created_at=existing.created_at if existing else version_ts,
        updated_at=version_ts,
        event_ts=version_ts,
        is_deleted=0,
    )
    _extract_tools(row)
    return row


def _extract_tools(row: ObservationRow) -> None:
    """Tool columns from the merged row, so an update that only adds the output still gets its
    calls read against the stored input. What this merge finds replaces the stored columns; when
    it finds nothing they stay (upstream keeps the current values the same way). Definitions kept
    in metadata (`tools`, or tool keys in `attributes`) are moved into the input first."""
    metadata = row.metadata
    parsed_input = MISSING
    if "tools" in metadata or "attributes" in metadata:
        attributes = metadata_attributes(metadata.get("attributes"))
        moved = move_metadata_tools(row.input, metadata.get("tools"), attributes)
        if moved is not None:
            row.input = moved.input
            parsed_input = moved.parsed_input
            apply_moved_metadata(metadata, moved)
    columns = tool_columns(row.input, row.output, parsed_input)
    if columns is None:
        return
    if columns.definitions:
        row.tool_definitions = columns.definitions
    if columns.calls:
        row.tool_calls = columns.calls
        row.tool_call_names = columns.call_names


def needs_wrapper_trace(row: ObservationRow) -> bool:
    """True when the observation has no trace of its own (SDK < 2 sent no traceId).

    The caller must then make sure a trace with ``row.trace_id`` (== the observation id) exists:
    merge :func:`wrapper_trace_event` through :func:`merge_trace` like any trace event.
    """
    return row.trace_id == row.id


def wrapper_trace_event(row: ObservationRow) -> TraceCreate:
    """A minimal ``trace-create`` for an observation that has no trace (id, time, environment)."""
    start = datetime.fromtimestamp(row.start_time, UTC)
    return TraceCreate(
        id=row.id,
        timestamp=start,
        body=TraceBody(id=row.trace_id, timestamp=start, environment=row.environment),
    )


def score_value_columns(body: ScoreBody) -> tuple[str, float, str | None, str]:
    """``(data_type, value, string_value, long_string_value)`` for a validated score body.

    BOOLEAN keeps 0/1 and says "True"/"False"; CATEGORICAL keeps the label (value 0 until a config
    maps it); TEXT keeps the text (value 0); CORRECTION keeps its text in ``long_string_value``.
    """
    data_type = body.effective_data_type
    value = body.value
    if data_type == "NUMERIC":
        return data_type, float(value), None, ""
    if data_type == "BOOLEAN":
        truth = value in (True, 1)
        return data_type, 1.0 if truth else 0.0, "True" if truth else "False", ""
    if data_type == "CORRECTION":
        return data_type, 0.0, None, str(value)
    return data_type, 0.0, str(value), ""


def merge_score(
    existing: ScoreRow | None, events: Sequence[ScoreCreate], project_id: str, version_ts: float
) -> ScoreRow:
    """The score row; value columns come as one unit from the last event (a re-typed score must
    not keep the previous type's ``string_value``)."""
    _check(events, existing, "merge_score")
    ordered = merge_order(events)
    bodies = [event.body for event in ordered]
    base = existing or ScoreRow(id=str(bodies[0].id), project_id=project_id, timestamp=0.0, name="")
    if bodies:
        data_type, value, string_value, long_string_value = score_value_columns(bodies[-1])
    else:
        data_type, value = base.data_type, base.value
        string_value, long_string_value = base.string_value, base.long_string_value
    timestamp = _entity_time(
        existing.timestamp if existing else None,
        [epoch_seconds(body.timestamp) for body in bodies if body.timestamp is not None],
        [epoch_seconds(event.timestamp) for event in ordered],
    )
    first_trace = next((body.trace_id for body in bodies if body.trace_id is not None), None)
    trace_id = base.trace_id if base.trace_id is not None else first_trace
    return ScoreRow(
        id=base.id,
        project_id=base.project_id,
        timestamp=timestamp,
        name=_last((body.name for body in bodies), base.name),
        value=value,
        environment=base.environment if existing else str(bodies[0].environment),
        trace_id=trace_id,
        observation_id=_last((body.observation_id for body in bodies), base.observation_id),
        session_id=_last((body.session_id for body in bodies), base.session_id),
        dataset_run_id=_last((body.dataset_run_id for body in bodies), base.dataset_run_id),
        source=_last((body.source for body in bodies), base.source),
        comment=_last((body.comment for body in bodies), base.comment),
        metadata=merge_metadata(base.metadata, (body.metadata for body in bodies)),
        author_user_id=base.author_user_id,
        config_id=_last((body.config_id for body in bodies), base.config_id),
        data_type=data_type,
        string_value=string_value,
        long_string_value=long_string_value,
        queue_id=_last((body.queue_id for body in bodies), base.queue_id),
        execution_trace_id=_last((body.execution_trace_id for body in bodies), base.execution_trace_id),
        created_at=existing.created_at if existing else version_ts,
        updated_at=version_ts,
        event_ts=version_ts,
        is_deleted=0,
    )
