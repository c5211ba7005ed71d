"""Decoded spans → ObservationRows (one per span) and per-trace TracePatches.

Pure and deterministic: the same export, project and receive time always give the same
rows, so a replayed payload rewrites identical row versions. Work that depends only on
the resource and scope (their metadata JSON, environment and release fallbacks) is done
once per group, not once per span.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from spyglass.collector.otel import keys as K
from spyglass.collector.otel.attribute_pass import SortedAttributes, sort_attributes
from spyglass.collector.otel.experiments import ExperimentItem, experiment_item
from spyglass.collector.otel.inputs_outputs import NOTHING, InputOutput, resolve_io
from spyglass.collector.otel.model_fields import AGENT_OPERATIONS, model_name, model_parameters
from spyglass.collector.otel.observation_type import GENERATION_LIKE, infer_observation_type
from spyglass.collector.otel.span_fields import (
    SPAN_KIND_NAMES,
    completion_start_time,
    environment_from,
    events_json,
    links_json,
    observation_name,
    prompt_link,
    span_environment,
    span_level,
)
from spyglass.collector.otel.spans import DecodedExport, RawSpan, SpanGroup
from spyglass.collector.otel.tool_calls import MISSING, apply_moved_metadata, move_metadata_tools, tool_columns
from spyglass.collector.otel.trace_patch import TracePatch
from spyglass.collector.otel.usage_cost import (
    clamped_costs,
    cost_with_total,
    langfuse_usage,
    provided_cost,
    provided_usage,
)
from spyglass.collector.otel.values import (
    DEFAULT_ENVIRONMENT,
    json_sorted,
    map_value,
    metadata_value,
    parse_json_object,
    text_or_json,
    to_bool,
    to_tags,
    to_text,
)
from spyglass.collector.pricing import usage_with_total
from spyglass.collector.pricing.money import MAX_STORED_COST
from spyglass.store.clickhouse.rows import ObservationRow

log = logging.getLogger("spyglass.otel.mapper")

UNMAPPABLE_SPAN = "unmappable span"
# Tests turn this off to check that the shortcut changes nothing.
_LANGFUSE_ONLY_SHORTCUT = True

_TRACE_PREFIX_LEN = len(K.TRACE_METADATA_PREFIX)


class MapResult(msgspec.Struct, kw_only=True):
    observations: list[ObservationRow]
    # One patch per trace touched by the export, already combined across its spans.
    traces: dict[str, TracePatch]
    experiments: list[ExperimentItem]
    rejected_count: int = 0
    # For OTLP partial_success.error_message; empty when every span was accepted.
    error_message: str = ""
    # Spans the decoder accepted but mapping failed on (a bug, logged): part of rejected_count.
    unmappable_count: int = 0


class _Group:
    """What every span of one (resource, scope) pair shares, computed once."""

    __slots__ = (
        "base_metadata",
        "environment_fallbacks",
        "is_langfuse_sdk",
        "old_python_sdk",
        "release",
        "resource_environment",
        "scope_name",
        "service_version",
        "trace_metadata",
    )

    def __init__(self, group: SpanGroup) -> None:
        resource = group.resource_attributes
        self.scope_name = group.scope_name
        self.is_langfuse_sdk = group.scope_name.startswith("langfuse-sdk")
        self.old_python_sdk = (
            self.is_langfuse_sdk
            and resource.get("telemetry.sdk.language") == "python"
            and _version_at_most(group.scope_version, (3, 3))
        )
        self.environment_fallbacks = tuple(resource.get(key) for key in K.ENVIRONMENT_KEYS)
        self.resource_environment = environment_from({}, self.environment_fallbacks)
        self.release = to_text(resource.get(K.LF_RELEASE))
        self.service_version = to_text(resource.get(K.SERVICE_VERSION))
        trace_metadata: dict[str, str] = {}
        for key, value in resource.items():
            if key.startswith(K.TRACE_METADATA_PREFIX):
                trace_metadata[key[_TRACE_PREFIX_LEN:]] = metadata_value(value)
        self.trace_metadata = trace_metadata
        scope = {
            "name": group.scope_name,
            "version": group.scope_version,
            "attributes": group.scope_attributes,
        }
        self.base_metadata = {"resourceAttributes": json_sorted(resource), "scope": json_sorted(scope)}


def _version_at_most(version: str, limit: tuple[int, int]) -> bool:
    parts = version.split(".")
    try:
        major = int(parts[0])
        minor = int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return False
    return (major, minor) <= limit


def _metadata(attrs: dict[str, Any], sorted_attrs: SortedAttributes, group: _Group, kind: int) -> dict[str, str]:
    """Observation metadata: user keys first, then the reserved keys (which win).

    Precedence among user keys: resource trace metadata < the whole-object attribute <
    single `…metadata.<key>` attributes. The pass's dict is fresh per span, so in the
    usual case (no lower layers) it becomes the metadata itself, without a copy.
    """
    whole = attrs.get(K.LF_METADATA) or attrs.get(K.LF_LEGACY_METADATA)
    if whole is not None:
        whole = parse_json_object(whole)
    if whole or group.trace_metadata:
        metadata: dict[str, str] = dict(group.trace_metadata)
        if whole:
            for key, value in whole.items():
                metadata[key] = map_value(value)
        metadata.update(sorted_attrs.obs_metadata)
    else:
        metadata = sorted_attrs.obs_metadata
    if sorted_attrs.leftover:
        metadata["attributes"] = json_sorted(sorted_attrs.leftover)
    metadata.update(group.base_metadata)
    if kind:
        metadata["spanKind"] = SPAN_KIND_NAMES[kind] if kind < len(SPAN_KIND_NAMES) else str(kind)
    return metadata


def _drop_used(leftover: dict[str, Any], io: InputOutput) -> None:
    """Keys read as input/output are stored there; repeating them in metadata would double
    the row's largest values."""
    for key in io.used_keys:
        leftover.pop(key, None)
    if io.used_prefixes:
        for key in [k for k in leftover if k.startswith(io.used_prefixes)]:
            del leftover[key]


def _map_span(
    span: RawSpan,
    group: _Group,
    project_id: str,
    received_at: float,
    traces: dict[str, TracePatch],
) -> tuple[ObservationRow, ExperimentItem | None]:
    attrs = span.attributes
    scope_name = group.scope_name
    sorted_attrs = sort_attributes(attrs, group.is_langfuse_sdk)
    # A span carrying nothing but Langfuse keys (the SDKs' own spans) cannot match any
    # other family's rule, so those lookups are skipped; the results are the same.
    only_langfuse = not sorted_attrs.leftover and _LANGFUSE_ONLY_SHORTCUT
    observation_type = infer_observation_type(attrs, span.name, scope_name, group.old_python_sdk)
    if only_langfuse:
        name = span.name
        has_io = K.LF_INPUT in attrs or K.LF_OUTPUT in attrs
        io = resolve_io(attrs, span.events, scope_name, None) if has_io or span.events else NOTHING
    else:
        name = observation_name(attrs, span.name)
        io = resolve_io(attrs, span.events, scope_name, sorted_attrs.flattened)
        if sorted_attrs.leftover:
            _drop_used(sorted_attrs.leftover, io)
    metadata = _metadata(attrs, sorted_attrs, group, span.kind)

    flag = attrs.get(K.LF_AS_ROOT)
    # A span made with `trace_context` (another service joining a trace) sets the trace-level
    # fields, but keeps its parent: the observation it was given, or one the SDK invented when
    # only a trace id was. A parent that names no observation of the trace reads as a root.
    as_root = flag is not None and to_bool(flag) is True
    parent = span.parent_span_id
    if parent is None or as_root:
        is_root = True
    else:
        flag = attrs.get(K.LF_IS_APP_ROOT)
        is_root = flag is not None and to_bool(flag) is True

    environment = span_environment(attrs, group.environment_fallbacks, group.resource_environment)
    version = attrs.get(K.LF_VERSION)
    version = (version if type(version) is str else to_text(version)) or group.service_version
    start_time = (span.start_ns // 1000) / 1e6  # nanos_to_seconds, inlined: twice a span

    if only_langfuse:
        model = attrs.get(K.LF_MODEL_NAME)
        provided_model = to_text(model) if model else None
        parameters = (
            model_parameters(attrs, scope_name, None)
            if provided_model is not None or observation_type in GENERATION_LIKE
            else None
        )
        usage = langfuse_usage(attrs) or {}
        cost = provided_cost(attrs)
    elif attrs.get(K.GEN_AI_OPERATION) in AGENT_OPERATIONS:
        provided_model = parameters = None
        usage = {}
        cost = {}
    else:
        provided_model = model_name(attrs)
        parameters = (
            model_parameters(attrs, scope_name, sorted_attrs.request)
            if provided_model is not None or observation_type in GENERATION_LIKE
            else None
        )
        usage = provided_usage(attrs, scope_name, sorted_attrs.usage)
        cost = provided_cost(attrs)

    prompt_name = prompt_version = None
    if observation_type in GENERATION_LIKE:
        prompt_name, prompt_version = prompt_link(attrs)

    # msgspec's keyword init costs far more per keyword than an attribute assignment, so only
    # the required fields go through the constructor; the rest are assigned, and only when
    # they differ from the field's default.
    observation = ObservationRow(id=span.span_id, trace_id=span.trace_id, project_id=project_id)
    observation.type = observation_type
    if parent is not None:
        observation.parent_observation_id = parent
    if environment:
        observation.environment = environment
    observation.start_time = start_time
    observation.end_time = (span.end_ns // 1000) / 1e6
    observation.name = name
    observation.metadata = metadata
    level = span_level(attrs, span.status_code)
    if level != "DEFAULT":
        observation.level = level
    if version is not None:
        observation.version = version
    if io.input is not None:
        observation.input = io.input
    if io.output is not None:
        observation.output = io.output
    observation.created_at = observation.updated_at = observation.event_ts = received_at
    completion_start = completion_start_time(attrs, span.start_ns, only_langfuse)
    if completion_start is not None:
        observation.completion_start_time = completion_start
    status_message = attrs.get(K.LF_STATUS_MESSAGE)
    status_message = to_text(status_message) if status_message is not None else None
    if status_message or span.status_message:
        observation.status_message = status_message or span.status_message
    if provided_model is not None:
        observation.provided_model_name = provided_model
    if parameters is not None:
        observation.model_parameters = parameters
    if usage:
        observation.provided_usage_details = usage
        observation.usage_details = usage_with_total(usage)
    if cost:
        clamped = clamped_costs(cost)
        if clamped:
            metadata["spyglass.warning"] = (
                f"cost {', '.join(clamped)} clamped to {MAX_STORED_COST}: the stored cost is below 10^6 USD"
            )
        cost_details, total_cost = cost_with_total(cost)
        observation.provided_cost_details = cost
        observation.cost_details = cost_details
        observation.total_cost = total_cost
    if prompt_name is not None:
        observation.prompt_name = prompt_name
        observation.prompt_version = prompt_version
    if span.events:
        observation.otel_events = events_json(span.events, span.start_ns)
    if span.links:
        observation.otel_links = links_json(span.links)
    _tools(observation, sorted_attrs)
    _note_trace(
        traces, span, sorted_attrs, group, project_id, received_at, start_time, is_root, name, io, environment, version
    )
    experiment = sorted_attrs.experiment
    found_experiment = (
        experiment_item(span, attrs, experiment, environment or DEFAULT_ENVIRONMENT) if experiment else None
    )
    return observation, found_experiment


def _tools(observation: ObservationRow, sorted_attrs: SortedAttributes) -> None:
    """The tool columns; definitions kept in metadata are first moved into the input (upstream's
    normalizeToolsForObservation). Only the observation changes: the trace's input is the span's."""
    metadata = observation.metadata
    parsed_input: Any = MISSING
    if sorted_attrs.tool_definitions or "tools" in metadata:
        attributes = sorted_attrs.leftover if sorted_attrs.tool_definitions else None
        moved = move_metadata_tools(observation.input, metadata.get("tools"), attributes)
        if moved is not None:
            observation.input = moved.input
            parsed_input = moved.parsed_input
            apply_moved_metadata(metadata, moved)
    columns = tool_columns(observation.input, observation.output, parsed_input)
    if columns is not None:
        observation.tool_definitions = columns.definitions
        observation.tool_calls = columns.calls
        observation.tool_call_names = columns.call_names


def _note_trace(
    traces: dict[str, TracePatch],
    span: RawSpan,
    sorted_attrs: SortedAttributes,
    group: _Group,
    project_id: str,
    received_at: float,
    start_time: float,
    is_root: bool,
    name: str,
    io: InputOutput,
    environment: str | None,
    version: str | None,
) -> None:
    """Fold this span's trace-level facts into the batch's patch for its trace.

    Later spans of the batch win for single values (last non-null); tags and metadata
    accumulate; the timestamp is the root's start, else the earliest start seen.
    """
    attrs = span.attributes
    patch = traces.get(span.trace_id)
    if patch is None:
        patch = traces[span.trace_id] = TracePatch(span.trace_id, project_id, received_at, start_time, is_root)
        if group.trace_metadata:
            patch.metadata.update(group.trace_metadata)
    elif is_root and not patch.from_root:
        patch.timestamp, patch.from_root = start_time, True
    elif is_root == patch.from_root and start_time < patch.timestamp:
        patch.timestamp = start_time

    obs_metadata = sorted_attrs.obs_metadata
    trace_metadata = sorted_attrs.trace_metadata
    # `or` chains: first non-empty source wins, and later sources are not even read.
    value = attrs.get(K.LF_TRACE_NAME)
    if value:
        patch.name = value if type(value) is str else to_text(value)
    if is_root:
        patch.root_name = name
        if io.input is not None:
            patch.root_input = io.input
        if io.output is not None:
            patch.root_output = io.output
    value = (
        attrs.get(K.LF_USER_ID)
        or attrs.get(K.USER_ID)
        or obs_metadata.get("langfuse_user_id")
        or trace_metadata.get("langfuse_user_id")
        or attrs.get("ai.telemetry.metadata.userId")
    )
    if value:
        patch.user_id = value if type(value) is str else to_text(value)
    value = (
        attrs.get(K.LF_SESSION_ID)
        or attrs.get(K.SESSION_ID)
        or attrs.get("gen_ai.conversation.id")
        or obs_metadata.get("langfuse_session_id")
        or trace_metadata.get("langfuse_session_id")
        or attrs.get("ai.telemetry.metadata.sessionId")
    )
    if value:
        patch.session_id = value if type(value) is str else to_text(value)
    value = (
        attrs.get(K.LF_TRACE_TAGS)
        or attrs.get(K.LF_TAGS)
        or obs_metadata.get("langfuse_tags")
        or trace_metadata.get("langfuse_tags")
        or attrs.get("ai.telemetry.metadata.tags")
        or attrs.get("tag.tags")
    )
    if value:
        patch.tags.update(to_tags(value))
    value = attrs.get(K.LF_TRACE_PUBLIC)
    if value is None:
        value = attrs.get(K.LF_PUBLIC)
    if value is not None:
        public = to_bool(value)
        if public is not None:
            patch.public = bool(patch.public) or public
    value = attrs.get(K.LF_RELEASE)
    value = (value if type(value) is str else to_text(value)) if value else group.release
    if value is not None:
        patch.release = value
    if version is not None:
        patch.version = version
    if environment is not None:
        patch.environment = environment
    whole = attrs.get(K.LF_TRACE_METADATA) or attrs.get(K.LF_LEGACY_METADATA)
    if whole is not None and (whole := parse_json_object(whole)):
        for key, item in whole.items():
            patch.metadata[key] = map_value(item)
    if trace_metadata:
        patch.metadata.update(trace_metadata)
    trace_input = attrs.get(K.LF_TRACE_INPUT)
    if trace_input is not None:
        patch.input = text_or_json(trace_input)
    trace_output = attrs.get(K.LF_TRACE_OUTPUT)
    if trace_output is not None:
        patch.output = text_or_json(trace_output)


def map_export(export: DecodedExport, *, project_id: str, received_at: float) -> MapResult:
    """Map every valid span; a span the mapper cannot handle is rejected on its own."""
    observations: list[ObservationRow] = []
    traces: dict[str, TracePatch] = {}
    experiments: list[ExperimentItem] = []
    # Copied so mapping the same export twice reports the same counts.
    rejections = export.rejections.copy()
    total = export.span_count + export.rejections.count
    unmappable = 0
    for group in export.groups:
        shared = _Group(group)
        for span in group.spans:
            try:
                observation, experiment = _map_span(span, shared, project_id, received_at, traces)
            except Exception:  # one odd span must not cost the batch; it is reported back
                rejections.add(UNMAPPABLE_SPAN, span.trace_id, span.span_id)
                unmappable += 1
                if unmappable == 1:  # a bug, not bad input: the first traceback of the export is enough
                    log.exception("span %s of trace %s could not be mapped", span.span_id, span.trace_id)
                continue
            observations.append(observation)
            if experiment is not None:
                experiments.append(experiment)
    return MapResult(
        observations=observations,
        traces=traces,
        experiments=experiments,
        rejected_count=rejections.count,
        error_message=rejections.message(total),
        unmappable_count=unmappable,
    )
