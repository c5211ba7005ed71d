"""The bodies of legacy ingestion events, as msgspec structs that validate while decoding.

Wire names are camelCase (``rename="camel"``); unknown keys are ignored, which is what lets the
Python SDK v2's stray snake_case keys (``start_time``, ``parent_observation_id``, a nested
``trace: {release}``) through. Every ``__post_init__`` leaves the body normalized (environment
normalized, metadata an object or None, enums upper-cased), and normalizing is idempotent, so a
body re-encoded with ``msgspec.json.encode`` decodes to an equal body.

``input``/``output`` stay ``msgspec.Raw`` (``JSON_NULL`` when absent or null): the JSON text is
never turned into Python objects on the accept path, and the merge stores it as it came.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import msgspec

from spyglass.collector.events.normalize import (
    check_id,
    check_pg_text,
    check_time,
    normalize_environment,
    wrap_metadata,
)
from spyglass.collector.events.problems import ISO_EXAMPLE, field_problem
from spyglass.collector.time_range import in_range, out_of_range
from spyglass.store.postgres.text import NUL_PROBLEM, nul_path

LEVELS = frozenset({"DEBUG", "DEFAULT", "WARNING", "ERROR"})
LEGACY_OBSERVATION_TYPES = frozenset({"GENERATION", "SPAN", "EVENT"})
SCORE_SOURCES = frozenset({"API", "EVAL", "ANNOTATION"})
SCORE_DATA_TYPES = frozenset({"NUMERIC", "CATEGORICAL", "BOOLEAN", "CORRECTION", "TEXT"})
MAX_TRACE_NAME = 1000
MAX_TEXT_SCORE = 500
MAX_PROMPT_VERSION = 65_535  # the column is UInt16

# A model parameter is a scalar, a list or a map; nested maps are kept (upstream wants string maps,
# but rejecting a whole generation over e.g. OpenAI's ``logit_bias`` helps nobody).
ModelParameter = str | int | float | bool | list[Any] | dict[str, Any] | None
ScoreValue = bool | int | float | str

# input/output default: absent and JSON null read the same (msgspec cannot put Raw in a union).
JSON_NULL = msgspec.Raw(b"null")


class _Body(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    pass


def _upper_enum(value: str | None, allowed: frozenset[str], field: str) -> str | None:
    if value is None:
        return None
    upper = value.upper()
    if upper not in allowed:
        raise field_problem(field, f"must be one of {', '.join(sorted(allowed))}, got {value!r}")
    return upper


class TraceBody(_Body, kw_only=True):
    id: str | None = None  # filled with the envelope id when absent
    timestamp: datetime | None = None
    name: str | None = None
    external_id: str | None = None
    input: msgspec.Raw = JSON_NULL
    output: msgspec.Raw = JSON_NULL
    session_id: str | None = None
    user_id: str | None = None
    environment: str | None = None
    metadata: Any = None
    release: str | None = None
    version: str | None = None
    public: bool | None = None
    tags: list[str] | None = None

    def __post_init__(self) -> None:
        if self.id is not None:
            check_id(self.id, "id")
        if self.name is not None and len(self.name) > MAX_TRACE_NAME:
            raise field_problem("name", f"must be at most {MAX_TRACE_NAME} characters")
        check_time(self.timestamp, "timestamp")
        self.environment = normalize_environment(self.environment)
        self.metadata = wrap_metadata(self.metadata)


class ObservationBody(_Body, kw_only=True):
    """``event-create``; the base of every observation body."""

    id: str
    trace_id: str | None = None
    environment: str | None = None
    name: str | None = None
    start_time: datetime | None = None
    metadata: Any = None
    input: msgspec.Raw = JSON_NULL
    output: msgspec.Raw = JSON_NULL
    level: str | None = None
    status_message: str | None = None
    parent_observation_id: str | None = None
    version: str | None = None

    def __post_init__(self) -> None:
        if self.id is not None:  # only the legacy body may omit it
            check_id(self.id, "id")
        if self.trace_id is not None:
            check_id(self.trace_id, "traceId")
        check_time(self.start_time, "startTime")
        self.environment = normalize_environment(self.environment)
        self.metadata = wrap_metadata(self.metadata)
        self.level = _upper_enum(self.level, LEVELS, "level")


class SpanBody(ObservationBody, kw_only=True):
    end_time: datetime | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_time(self.end_time, "endTime")


class GenerationBody(SpanBody, kw_only=True):
    """Generations and the other generation-like creates (agent, tool, chain, retriever, ...)."""

    completion_start_time: datetime | None = None
    model: str | None = None
    model_parameters: dict[str, ModelParameter] | None = None
    # Usage and cost stay as sent (objects checked, values not): spyglass.collector.pricing reads
    # every shape (legacy usage, OpenAI chat/responses, raw maps) and drops values it cannot use,
    # so a garbage count costs the count, not the whole generation.
    usage: dict[str, Any] | None = None
    usage_details: dict[str, Any] | None = None
    cost_details: dict[str, Any] | None = None
    prompt_name: str | None = None
    prompt_version: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_time(self.completion_start_time, "completionStartTime")
        check_pg_text(self.prompt_name, "promptName")
        if bool(self.prompt_name) != bool(self.prompt_version):
            raise field_problem("promptName", "promptName and promptVersion must be given together")
        if self.prompt_version is not None and not 0 <= self.prompt_version <= MAX_PROMPT_VERSION:
            raise field_problem("promptVersion", f"must be between 0 and {MAX_PROMPT_VERSION}")


class LegacyObservationBody(GenerationBody, kw_only=True):
    """``observation-create``/``-update`` of SDKs before 2.0: the type travels in the body."""

    id: str | None = None  # type: ignore[assignment]  # optional here; filled with the envelope id
    type: str

    def __post_init__(self) -> None:
        super().__post_init__()
        self.type = _upper_enum(self.type, LEGACY_OBSERVATION_TYPES, "type") or self.type


class ScoreBody(_Body, kw_only=True):
    """A score, from ``score-create`` or ``POST /api/public/scores`` (same rules for both).

    ``data_type`` keeps what the client declared (None when it did not); the type actually used is
    :attr:`effective_data_type`. Keeping the declaration lets a score config check it later.
    """

    id: str | None = None
    name: str
    value: ScoreValue
    trace_id: str | None = None
    session_id: str | None = None
    dataset_run_id: str | None = None
    observation_id: str | None = None
    environment: str | None = None
    comment: str | None = None
    metadata: Any = None
    source: str | None = None
    data_type: str | None = None
    config_id: str | None = None
    queue_id: str | None = None
    execution_trace_id: str | None = None
    timestamp: datetime | None = None  # py v5 sends it; it is the score's (immutable) time

    @property
    def effective_data_type(self) -> str:
        if self.data_type is not None:
            return self.data_type
        if isinstance(self.value, bool):
            return "BOOLEAN"
        return "CATEGORICAL" if isinstance(self.value, str) else "NUMERIC"

    def __post_init__(self) -> None:
        if self.id is not None:
            check_id(self.id, "id")
        if not self.name.strip():
            raise field_problem("name", "must not be empty")
        self.environment = normalize_environment(self.environment)
        self.metadata = wrap_metadata(self.metadata)
        # Absent stays None (the row defaults to API) so an update without it keeps the old source.
        self.source = _upper_enum(self.source, SCORE_SOURCES, "source")
        self.data_type = _upper_enum(self.data_type, SCORE_DATA_TYPES, "dataType")
        if self.source == "ANNOTATION" and not self.config_id:
            raise field_problem("configId", "is required for ANNOTATION scores")
        check_pg_text(self.config_id, "configId")
        check_time(self.timestamp, "timestamp")
        _check_score_value(self.effective_data_type, self.value, self)


def _check_score_value(data_type: str, value: ScoreValue, body: ScoreBody) -> None:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number and not math.isfinite(value):  # type: ignore[arg-type]
        raise field_problem("value", "must be a finite number")
    if data_type == "NUMERIC" and not is_number:
        raise field_problem("value", f"must be a number for data type NUMERIC, got {_kind(value)}")
    if data_type == "BOOLEAN" and not (isinstance(value, bool) or (is_number and value in (0, 1))):
        raise field_problem("value", f"must be 0, 1, true or false for data type BOOLEAN, got {value!r}")
    if data_type in ("CATEGORICAL", "TEXT", "CORRECTION") and not isinstance(value, str):
        raise field_problem("value", f"must be a string for data type {data_type}, got {_kind(value)}")
    if data_type == "TEXT" and not 1 <= len(value) <= MAX_TEXT_SCORE:  # type: ignore[arg-type]
        raise field_problem("value", f"must be 1 to {MAX_TEXT_SCORE} characters for data type TEXT")
    if data_type == "CORRECTION":
        if body.config_id:
            raise field_problem("configId", "is not allowed for CORRECTION scores")
        if body.session_id or body.dataset_run_id:
            raise field_problem("dataType", "CORRECTION scores must target a trace or an observation")


def _kind(value: ScoreValue) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return "a string" if isinstance(value, str) else "a number"


class SdkLogBody(_Body, kw_only=True):
    log: Any
    id: str | None = None


class DatasetRunItemBody(_Body, kw_only=True):
    """``dataset-run-item-create``: validated here, stored by the dataset-runs component."""

    id: str | None = None
    run_name: str
    run_description: str | None = None
    metadata: Any = None
    dataset_item_id: str
    trace_id: str
    observation_id: str | None = None
    dataset_version: str | None = None

    def __post_init__(self) -> None:
        if self.id is not None:
            check_id(self.id, "id")
        if not self.run_name:
            raise field_problem("runName", "must not be empty")
        check_id(self.dataset_item_id, "datasetItemId")
        check_id(self.trace_id, "traceId")
        if self.observation_id is not None:
            check_id(self.observation_id, "observationId")
        # Everything here is written to PostgreSQL by the worker.
        check_pg_text(self.run_name, "runName")
        check_pg_text(self.run_description, "runDescription")
        where = nul_path(self.metadata, "metadata")
        if where is not None:
            raise field_problem(where, NUL_PROBLEM)
        _check_dataset_version(self.dataset_version)


def _check_dataset_version(text: str | None) -> None:
    if text is None:
        return
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise field_problem("datasetVersion", f"expected an ISO 8601 date-time such as {ISO_EXAMPLE}") from None
    if not in_range(moment):
        raise field_problem("datasetVersion", out_of_range(text))
