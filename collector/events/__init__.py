"""The Langfuse ingestion event model: validate requests into typed events, fold events into rows.

Accept path (HTTP layer, no I/O here):
    ``parse_ingestion_body`` → ``ValidatedBatch`` → ``build_ingestion_response`` (HTTP 207);
    ``parse_scores_body`` / ``build_scores_response`` for ``POST /api/public/scores``;
    ``convert_legacy_request`` for the deprecated traces/spans/generations/events endpoints.
Worker path:
    ``group_events`` → per entity ``merge_trace`` / ``merge_observation`` / ``merge_score``;
    ``apply_score_config`` for scores with a config; ``needs_wrapper_trace`` for SDK < 2.
"""

from spyglass.collector.events.bodies import (
    DatasetRunItemBody,
    GenerationBody,
    LegacyObservationBody,
    ObservationBody,
    ScoreBody,
    SdkLogBody,
    SpanBody,
    TraceBody,
)
from spyglass.collector.events.envelopes import (
    DATASET_RUN_ITEM,
    EVENT_TYPES,
    OBSERVATION,
    SCORE,
    TRACE,
    DatasetRunItemCreate,
    IngestionEvent,
    ObservationEvent,
    ScoreCreate,
    SdkLog,
    TraceCreate,
    entity_key,
    observation_type,
)
from spyglass.collector.events.grouping import EntityKey, group_events, merge_order
from spyglass.collector.events.legacy_api import convert_legacy_request
from spyglass.collector.events.merge import (
    merge_observation,
    merge_score,
    merge_trace,
    needs_wrapper_trace,
    wrapper_trace_event,
)
from spyglass.collector.events.normalize import normalize_environment
from spyglass.collector.events.problems import EventError, InvalidRequest
from spyglass.collector.events.score_config import (
    ScoreConfig,
    ScoreConfigCategory,
    ScoreRejected,
    apply_score_config,
)
from spyglass.collector.events.scores_api import ScoresRequest, build_scores_response, parse_scores_body
from spyglass.collector.events.validate import (
    INGESTION_STATUS,
    IngestionResponse,
    ValidatedBatch,
    build_ingestion_response,
    decode_event,
    parse_ingestion_body,
)

__all__ = [
    "DATASET_RUN_ITEM",
    "EVENT_TYPES",
    "INGESTION_STATUS",
    "OBSERVATION",
    "SCORE",
    "TRACE",
    "DatasetRunItemBody",
    "DatasetRunItemCreate",
    "EntityKey",
    "EventError",
    "GenerationBody",
    "IngestionEvent",
    "IngestionResponse",
    "InvalidRequest",
    "LegacyObservationBody",
    "ObservationBody",
    "ObservationEvent",
    "ScoreBody",
    "ScoreConfig",
    "ScoreConfigCategory",
    "ScoreCreate",
    "ScoreRejected",
    "ScoresRequest",
    "SdkLog",
    "SdkLogBody",
    "SpanBody",
    "TraceBody",
    "TraceCreate",
    "ValidatedBatch",
    "apply_score_config",
    "build_ingestion_response",
    "build_scores_response",
    "convert_legacy_request",
    "decode_event",
    "entity_key",
    "group_events",
    "merge_observation",
    "merge_order",
    "merge_score",
    "merge_trace",
    "needs_wrapper_trace",
    "normalize_environment",
    "observation_type",
    "parse_ingestion_body",
    "parse_scores_body",
    "wrapper_trace_event",
]
