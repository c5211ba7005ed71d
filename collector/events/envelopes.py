"""Typed ingestion events: the envelope ``{id, timestamp, type, body, metadata?}``, one class per type.

The classes form a msgspec tagged union on ``type``, so one decode call picks the class, validates
the envelope and the body, and reports the exact path of the first problem. The same union encodes
a typed event back to the wire form (``msgspec.json.encode``), e.g. to queue or archive it.

A body without an id takes the envelope id: deterministic, so a client re-sending a batch (py v2
re-sends the whole batch on any error) updates the same entity instead of creating a second one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import msgspec

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
from spyglass.collector.events.normalize import check_id, check_time
from spyglass.collector.events.problems import ISO_EXAMPLE, field_problem

TRACE = "trace"
OBSERVATION = "observation"
SCORE = "score"
DATASET_RUN_ITEM = "dataset_run_item"


class _Envelope(msgspec.Struct, tag_field="type", kw_only=True, omit_defaults=True):
    id: str
    timestamp: datetime
    metadata: Any = None

    # The entity the event writes to (None: logged and dropped) and, for observations, its type.
    ENTITY: ClassVar[str | None] = None
    OBSERVATION_TYPE: ClassVar[str | None] = None

    @property
    def type(self) -> str:
        return str(self.__struct_config__.tag)

    @property
    def is_update(self) -> bool:
        return self.type.endswith("-update")

    def __post_init__(self) -> None:
        check_id(self.id, "id")
        if self.timestamp.tzinfo is None:
            raise field_problem("timestamp", f"needs a UTC offset or Z, e.g. {ISO_EXAMPLE}")
        check_time(self.timestamp, "timestamp")
        body = getattr(self, "body", None)
        if body is not None and getattr(body, "id", "") is None:
            body.id = self.id


class TraceCreate(_Envelope, tag="trace-create", kw_only=True):
    body: TraceBody
    ENTITY = TRACE


class EventCreate(_Envelope, tag="event-create", kw_only=True):
    body: ObservationBody
    ENTITY = OBSERVATION
    OBSERVATION_TYPE = "EVENT"


class SpanCreate(_Envelope, tag="span-create", kw_only=True):
    body: SpanBody
    ENTITY = OBSERVATION
    OBSERVATION_TYPE = "SPAN"


class SpanUpdate(_Envelope, tag="span-update", kw_only=True):
    body: SpanBody
    ENTITY = OBSERVATION
    OBSERVATION_TYPE = "SPAN"


class GenerationCreate(_Envelope, tag="generation-create", kw_only=True):
    body: GenerationBody
    ENTITY = OBSERVATION
    OBSERVATION_TYPE = "GENERATION"


class GenerationUpdate(_Envelope, tag="generation-update", kw_only=True):
    body: GenerationBody
    ENTITY = OBSERVATION
    OBSERVATION_TYPE = "GENERATION"


class AgentCreate(_Envelope, tag="agent-create", kw_only=True):
    body: GenerationBody
    ENTITY = OBSERVATION
    OBSERVATION_TYPE = "AGENT"


class ToolCreate(_Envelope, tag="tool-create", kw_only=True):
    body: GenerationBody
    ENTITY = OBSERVATION
    OBSERVATION_TYPE = "TOOL"


class ChainCreate(_Envelope, tag="chain-create", kw_only=True):
    body: GenerationBody
    ENTITY = OBSERVATION
    OBSERVATION_TYPE = "CHAIN"


class RetrieverCreate(_Envelope, tag="retriever-create", kw_only=True):
    body: GenerationBody
    ENTITY = OBSERVATION
    OBSERVATION_TYPE = "RETRIEVER"


class EvaluatorCreate(_Envelope, tag="evaluator-create", kw_only=True):
    body: GenerationBody
    ENTITY = OBSERVATION
    OBSERVATION_TYPE = "EVALUATOR"


class EmbeddingCreate(_Envelope, tag="embedding-create", kw_only=True):
    body: GenerationBody
    ENTITY = OBSERVATION
    OBSERVATION_TYPE = "EMBEDDING"


class GuardrailCreate(_Envelope, tag="guardrail-create", kw_only=True):
    body: GenerationBody
    ENTITY = OBSERVATION
    OBSERVATION_TYPE = "GUARDRAIL"


class ObservationCreate(_Envelope, tag="observation-create", kw_only=True):
    """Legacy (SDK < 2): the observation type is ``body.type``."""

    body: LegacyObservationBody
    ENTITY = OBSERVATION


class ObservationUpdate(_Envelope, tag="observation-update", kw_only=True):
    body: LegacyObservationBody
    ENTITY = OBSERVATION


class ScoreCreate(_Envelope, tag="score-create", kw_only=True):
    body: ScoreBody
    ENTITY = SCORE


class SdkLog(_Envelope, tag="sdk-log", kw_only=True):
    body: SdkLogBody


class DatasetRunItemCreate(_Envelope, tag="dataset-run-item-create", kw_only=True):
    body: DatasetRunItemBody
    ENTITY = DATASET_RUN_ITEM


ObservationEvent = (
    EventCreate
    | SpanCreate
    | SpanUpdate
    | GenerationCreate
    | GenerationUpdate
    | AgentCreate
    | ToolCreate
    | ChainCreate
    | RetrieverCreate
    | EvaluatorCreate
    | EmbeddingCreate
    | GuardrailCreate
    | ObservationCreate
    | ObservationUpdate
)
IngestionEvent = TraceCreate | ObservationEvent | ScoreCreate | SdkLog | DatasetRunItemCreate

EVENT_TYPES: frozenset[str] = frozenset(str(cls.__struct_config__.tag) for cls in IngestionEvent.__args__)


def observation_type(event: ObservationEvent) -> str:
    """SPAN, GENERATION, EVENT, AGENT, ... — from the event type, or the body for legacy events."""
    if isinstance(event, ObservationCreate | ObservationUpdate):
        return event.body.type
    assert event.OBSERVATION_TYPE is not None
    return event.OBSERVATION_TYPE


def entity_key(event: IngestionEvent) -> tuple[str, str] | None:
    """``(entity type, body id)`` the event writes to; None for ``sdk-log``."""
    if event.ENTITY is None:
        return None
    body_id = event.body.id
    assert body_id is not None  # the envelope fills a missing body id
    return event.ENTITY, body_id
