"""The whitelist: every view, dimension and measure a metrics query may name, mapped to SQL.

Nothing a client sends is ever spliced into SQL; names are looked up here and values travel as
bound parameters. SQL below refers to the view's base rows by their table name (`traces`,
`observations`, `scores`) and to joined rows by the relation's alias.

Measures are per-entity expressions (one trace, observation or score, grouped by its id), which
the compiler then aggregates with the requested function. Joins that could repeat an entity's
rows (its scores, its observations' names) only ever feed `any()` or pre-aggregated columns,
so no measure is inflated by them.

v1 (`/api/public/metrics`) and v2 (`/api/public/v2/metrics`) read the same tables here; v2 has
no traces view, adds a few observation dimensions and a boolean-scores view, and refuses to
group by high-cardinality dimensions.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from spyglass.query.metrics.sources import USAGE_TOTAL, keys_like, related

ColumnType = Literal["string", "number", "string[]", "boolean"]
Kind = Literal["integer", "decimal", "float"]
Version = Literal["v1", "v2"]


class Dimension(msgspec.Struct, frozen=True):
    sql: str
    type: ColumnType = "string"
    relation: str | None = None
    # True when the relation has several rows per entity (e.g. the names of a trace's
    # observations): the entity is then counted once per distinct value.
    fanout: bool = False
    # True when `sql` is an arrayJoin over the entity's own distinct values (upstream's tool
    # names): one row per value, none for an entity without values, so the dimension is a
    # row-level key and needs no grouping by entity. A filter cannot test an arrayJoin (it would
    # explode the rows it filters); it tests `filter_sql`, the whole array, instead.
    explode: bool = False
    filter_sql: str | None = None


class Measure(msgspec.Struct, frozen=True):
    sql: str
    kind: Kind
    relation: str | None = None


class View(msgspec.Struct, frozen=True):
    name: str
    table: str
    time_column: str
    # Column names a datetime filter may use for the view's time (upstream used the raw column).
    time_fields: frozenset[str]
    dimensions: dict[str, Dimension]
    measures: dict[str, Measure]
    relations: dict[str, str]
    segment: str | None = None
    high_cardinality: frozenset[str] = frozenset()


# ---- joins ----------------------------------------------------------------------------------


def _join(alias: str, source: str, on: str) -> str:
    return f"LEFT JOIN ({source}) AS {alias} ON {on}"


_TRACE_OF_OBSERVATION = _join("traces", related("traces", "id", "trace_id"), "traces.id = observations.trace_id")
_TRACE_OF_SCORE = _join("traces", related("traces", "id", "trace_id"), "traces.id = scores.trace_id")
_OBSERVATION_OF_SCORE = _join(
    "observations", related("observations", "id", "observation_id"), "observations.id = scores.observation_id"
)

_TRACE_OBS_STATS = _join(
    "obs_stats",
    "SELECT trace_id, count() AS observations_count, "
    "date_diff('millisecond', min(start_time), max(end_time)) AS latency, "
    f"sum({USAGE_TOTAL}) AS total_tokens, sum(total_cost) AS total_cost "
    f"FROM ({related('observations', 'trace_id', 'id')}) GROUP BY trace_id",
    "obs_stats.trace_id = traces.id",
)
_TRACE_SCORE_STATS = _join(
    "score_stats",
    f"SELECT trace_id, count() AS scores_count FROM ({related('scores', 'trace_id', 'id')}) GROUP BY trace_id",
    "score_stats.trace_id = traces.id",
)
_TRACE_OBS_NAMES = _join(
    "obs_names",
    f"SELECT DISTINCT trace_id, name FROM ({related('observations', 'trace_id', 'id')})",
    "obs_names.trace_id = traces.id",
)
_TRACE_SCORE_NAMES = _join(
    "score_names",
    f"SELECT DISTINCT trace_id, name FROM ({related('scores', 'trace_id', 'id')})",
    "score_names.trace_id = traces.id",
)
_OBSERVATION_SCORE_STATS = _join(
    "score_stats",
    "SELECT observation_id, count() AS scores_count "
    f"FROM ({related('scores', 'observation_id', 'id')}) GROUP BY observation_id",
    "score_stats.observation_id = observations.id",
)
_OBSERVATION_SCORE_NAMES = _join(
    "score_names",
    f"SELECT DISTINCT observation_id, name FROM ({related('scores', 'observation_id', 'id')})",
    "score_names.observation_id = observations.id",
)

# ---- traces (v1 only) -----------------------------------------------------------------------

_ONE = Measure("toUInt64(1)", "integer")

_TRACES = View(
    name="traces",
    table="traces",
    time_column="timestamp",
    time_fields=frozenset({"timestamp"}),
    dimensions={
        "id": Dimension("traces.id"),
        "name": Dimension("traces.name"),
        "tags": Dimension("traces.tags", "string[]"),
        "userId": Dimension("traces.user_id"),
        "sessionId": Dimension("traces.session_id"),
        "release": Dimension("traces.release"),
        "version": Dimension("traces.version"),
        "environment": Dimension("traces.environment"),
        "timestampMonth": Dimension("formatDateTime(traces.timestamp, '%Y-%m')"),
        "observationName": Dimension("obs_names.name", relation="obs_names", fanout=True),
        "scoreName": Dimension("score_names.name", relation="score_names", fanout=True),
    },
    measures={
        "count": _ONE,
        "observationsCount": Measure("ifNull(any(obs_stats.observations_count), 0)", "integer", "obs_stats"),
        "scoresCount": Measure("ifNull(any(score_stats.scores_count), 0)", "integer", "score_stats"),
        # Milliseconds from the first observation's start to the last one's end; NULL (ignored
        # by every aggregation) for a trace without observations.
        "latency": Measure("any(obs_stats.latency)", "integer", "obs_stats"),
        "totalTokens": Measure("ifNull(any(obs_stats.total_tokens), 0)", "integer", "obs_stats"),
        "totalCost": Measure("ifNull(any(obs_stats.total_cost), 0)", "decimal", "obs_stats"),
    },
    relations={
        "obs_stats": _TRACE_OBS_STATS,
        "score_stats": _TRACE_SCORE_STATS,
        "obs_names": _TRACE_OBS_NAMES,
        "score_names": _TRACE_SCORE_NAMES,
    },
)

# ---- observations ---------------------------------------------------------------------------

_USAGE = "any(observations.usage_details)"
_COSTS = "any(observations.cost_details)"
_TOTAL_UNITS = f"any(observations.{USAGE_TOTAL})"
_START = "any(observations.start_time)"
_END = "any(observations.end_time)"
_FIRST_TOKEN = "any(observations.completion_start_time)"

_OBSERVATION_DIMENSIONS: dict[str, Dimension] = {
    "id": Dimension("observations.id"),
    "traceId": Dimension("observations.trace_id"),
    "traceName": Dimension("traces.name", relation="traces"),
    "environment": Dimension("observations.environment"),
    "parentObservationId": Dimension("observations.parent_observation_id"),
    "type": Dimension("observations.type"),
    "name": Dimension("observations.name"),
    "level": Dimension("observations.level"),
    "version": Dimension("observations.version"),
    "providedModelName": Dimension("observations.provided_model_name"),
    "promptName": Dimension("observations.prompt_name"),
    "promptVersion": Dimension("observations.prompt_version", "number"),
    "userId": Dimension("traces.user_id", relation="traces"),
    "sessionId": Dimension("traces.session_id", relation="traces"),
    "tags": Dimension("traces.tags", "string[]", relation="traces"),
    "traceRelease": Dimension("traces.release", relation="traces"),
    "traceVersion": Dimension("traces.version", relation="traces"),
    "startTimeMonth": Dimension("formatDateTime(observations.start_time, '%Y-%m')"),
    "scoreName": Dimension("score_names.name", relation="score_names", fanout=True),
    # Upstream explodes these: an observation counts once under each tool it was offered or
    # called, and not at all without tools. Definitions are keyed by name, so their keys are
    # distinct; call names repeat when a tool is called twice, hence arrayDistinct (upstream's
    # inner GROUP BY id, dimension counts such an observation once as well).
    "toolNames": Dimension(
        "arrayJoin(mapKeys(observations.tool_definitions))",
        "string[]",
        explode=True,
        filter_sql="mapKeys(observations.tool_definitions)",
    ),
    "calledToolNames": Dimension(
        "arrayJoin(arrayDistinct(observations.tool_call_names))",
        "string[]",
        explode=True,
        filter_sql="observations.tool_call_names",
    ),
}

_OBSERVATION_MEASURES: dict[str, Measure] = {
    "count": _ONE,
    "latency": Measure(f"date_diff('millisecond', {_START}, {_END})", "integer"),
    "streamingLatency": Measure(f"date_diff('millisecond', {_FIRST_TOKEN}, {_END})", "integer"),
    "inputTokens": Measure(keys_like(_USAGE, "input"), "integer"),
    "outputTokens": Measure(keys_like(_USAGE, "output"), "integer"),
    "totalTokens": Measure(_TOTAL_UNITS, "integer"),
    "outputTokensPerSecond": Measure(
        f"{keys_like(_USAGE, 'output')} * 1000 / nullIf(date_diff('millisecond', {_FIRST_TOKEN}, {_END}), 0)",
        "float",
    ),
    "tokensPerSecond": Measure(
        f"{_TOTAL_UNITS} * 1000 / nullIf(date_diff('millisecond', {_START}, {_END}), 0)", "float"
    ),
    "inputCost": Measure(keys_like(_COSTS, "input"), "decimal"),
    "outputCost": Measure(keys_like(_COSTS, "output"), "decimal"),
    "totalCost": Measure("any(observations.total_cost)", "decimal"),
    "timeToFirstToken": Measure(f"date_diff('millisecond', {_START}, {_FIRST_TOKEN})", "integer"),
    "countScores": Measure("ifNull(any(score_stats.scores_count), 0)", "integer", "score_stats"),
    # Tools offered to the model and tool calls in its output (upstream's measures).
    "toolDefinitions": Measure("length(any(observations.tool_definitions))", "integer"),
    "toolCalls": Measure("length(any(observations.tool_calls))", "integer"),
}

_OBSERVATION_RELATIONS = {
    "traces": _TRACE_OF_OBSERVATION,
    "score_stats": _OBSERVATION_SCORE_STATS,
    "score_names": _OBSERVATION_SCORE_NAMES,
}


def _observations(version: Version) -> View:
    dimensions = dict(_OBSERVATION_DIMENSIONS)
    high_cardinality: frozenset[str] = frozenset()
    if version == "v2":
        dimensions["release"] = Dimension("traces.release", relation="traces")
        # Physical roots only: a span whose parent was never exported still has a parent id.
        dimensions["isRootObservation"] = Dimension("ifNull(observations.parent_observation_id, '') = ''", "boolean")
        high_cardinality = frozenset({"id", "traceId", "userId", "sessionId", "parentObservationId"})
    return View(
        name="observations",
        table="observations",
        time_column="start_time",
        time_fields=frozenset({"startTime", "start_time"}),
        dimensions=dimensions,
        measures=dict(_OBSERVATION_MEASURES),
        relations=dict(_OBSERVATION_RELATIONS),
        high_cardinality=high_cardinality,
    )


# ---- scores ---------------------------------------------------------------------------------

_SCORE_DIMENSIONS: dict[str, Dimension] = {
    "id": Dimension("scores.id"),
    "name": Dimension("scores.name"),
    "environment": Dimension("scores.environment"),
    "source": Dimension("scores.source"),
    "dataType": Dimension("scores.data_type"),
    "traceId": Dimension("scores.trace_id"),
    "observationId": Dimension("scores.observation_id"),
    "configId": Dimension("scores.config_id"),
    "timestampMonth": Dimension("formatDateTime(scores.timestamp, '%Y-%m')"),
    "timestampDay": Dimension("formatDateTime(scores.timestamp, '%Y-%m-%d')"),
    "traceName": Dimension("traces.name", relation="traces"),
    "tags": Dimension("traces.tags", "string[]", relation="traces"),
    "userId": Dimension("traces.user_id", relation="traces"),
    # A session score has no trace; a trace score's session is its trace's.
    "sessionId": Dimension("coalesce(scores.session_id, traces.session_id)", relation="traces"),
    "traceRelease": Dimension("traces.release", relation="traces"),
    "traceVersion": Dimension("traces.version", relation="traces"),
    "observationName": Dimension("observations.name", relation="observations"),
    "observationModelName": Dimension("observations.provided_model_name", relation="observations"),
    "observationPromptName": Dimension("observations.prompt_name", relation="observations"),
    "observationPromptVersion": Dimension("observations.prompt_version", "number", relation="observations"),
}

_SCORE_RELATIONS = {"traces": _TRACE_OF_SCORE, "observations": _OBSERVATION_OF_SCORE}

_SCORE_SEGMENTS = {
    "scores-numeric": "scores.data_type IN ('NUMERIC', 'BOOLEAN')",
    "scores-boolean": "scores.data_type = 'BOOLEAN'",
    "scores-categorical": "scores.data_type = 'CATEGORICAL'",
}


def _scores(name: str, version: Version) -> View:
    dimensions = dict(_SCORE_DIMENSIONS)
    measures: dict[str, Measure] = {"count": _ONE}
    if name == "scores-categorical":
        dimensions["stringValue"] = Dimension("scores.string_value")
    else:
        dimensions["value"] = Dimension("scores.value", "number")
        measures["value"] = Measure("any(scores.value)", "float")
    if name == "scores-boolean":
        dimensions["booleanValue"] = Dimension("scores.value = 1", "boolean")
    high_cardinality: frozenset[str] = frozenset()
    if version == "v2":
        dimensions["release"] = Dimension("traces.release", relation="traces")
        high_cardinality = frozenset({"id", "traceId", "userId", "sessionId", "observationId"})
    return View(
        name=name,
        table="scores",
        time_column="timestamp",
        time_fields=frozenset({"timestamp"}),
        dimensions=dimensions,
        measures=measures,
        relations=dict(_SCORE_RELATIONS),
        segment=_SCORE_SEGMENTS[name],
        high_cardinality=high_cardinality,
    )


VIEWS: dict[Version, dict[str, View]] = {
    "v1": {
        "traces": _TRACES,
        "observations": _observations("v1"),
        "scores-numeric": _scores("scores-numeric", "v1"),
        "scores-categorical": _scores("scores-categorical", "v1"),
    },
    "v2": {
        "observations": _observations("v2"),
        "scores-numeric": _scores("scores-numeric", "v2"),
        "scores-boolean": _scores("scores-boolean", "v2"),
        "scores-categorical": _scores("scores-categorical", "v2"),
    },
}
