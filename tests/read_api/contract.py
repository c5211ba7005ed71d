# The SDK's alias handling (convert_and_respect_annotation_metadata) walks typing.Union,
# typing.Optional and typing.List/Dict only; PEP 604 unions would skip the camelCase aliases.
# ruff: noqa: UP006, UP007, UP045
"""Response contracts for the endpoints the installed SDK (langfuse 5.x) no longer wraps.

langfuse 5 dropped its clients for GET /traces, /traces/{id}, /sessions, v1 /observations and
/v2/scores, but older SDKs (v3/v4) and other clients still call them. These models restate the
shapes those SDKs' generated (Fern) models require, reusing the installed SDK's own building
blocks (`Score`, `Usage`, `MetaResponse`, `MapValue`, ...) so the fields they share cannot drift,
and parse with the SDK's own `parse_obj_as`. A field marked required here is required there.
"""

from __future__ import annotations

import datetime as dt
import typing

import pydantic
import typing_extensions
from langfuse.api.commons.types.boolean_score import BooleanScore
from langfuse.api.commons.types.categorical_score import CategoricalScore
from langfuse.api.commons.types.correction_score import CorrectionScore
from langfuse.api.commons.types.map_value import MapValue
from langfuse.api.commons.types.numeric_score import NumericScore
from langfuse.api.commons.types.observation_level import ObservationLevel
from langfuse.api.commons.types.score_source import ScoreSource
from langfuse.api.commons.types.text_score import TextScore
from langfuse.api.commons.types.usage import Usage
from langfuse.api.core.pydantic_utilities import UniversalBaseModel, parse_obj_as
from langfuse.api.core.serialization import FieldMetadata
from langfuse.api.utils.pagination.types.meta_response import MetaResponse

T = typing.TypeVar("T")


def parse(type_: type[T], body: typing.Any) -> T:
    return parse_obj_as(type_, body)


class _Model(UniversalBaseModel):
    model_config = pydantic.ConfigDict(extra="allow", frozen=True)


class Trace(_Model):
    id: str
    timestamp: dt.datetime
    name: typing.Optional[str] = None
    input: typing.Optional[typing.Any] = None
    output: typing.Optional[typing.Any] = None
    session_id: typing_extensions.Annotated[typing.Optional[str], FieldMetadata(alias="sessionId")] = None
    release: typing.Optional[str] = None
    version: typing.Optional[str] = None
    user_id: typing_extensions.Annotated[typing.Optional[str], FieldMetadata(alias="userId")] = None
    metadata: typing.Optional[typing.Any] = None
    tags: typing.Optional[list[str]] = None
    public: typing.Optional[bool] = None
    environment: typing.Optional[str] = None


class TraceWithDetails(Trace):
    html_path: typing_extensions.Annotated[str, FieldMetadata(alias="htmlPath")]
    latency: float
    total_cost: typing_extensions.Annotated[float, FieldMetadata(alias="totalCost")]
    observations: typing.List[str]
    scores: typing.List[str]


class Traces(_Model):
    data: typing.List[TraceWithDetails]
    meta: MetaResponse


class Observation(_Model):
    id: str
    trace_id: typing_extensions.Annotated[typing.Optional[str], FieldMetadata(alias="traceId")] = None
    type: str
    name: typing.Optional[str] = None
    start_time: typing_extensions.Annotated[dt.datetime, FieldMetadata(alias="startTime")]
    end_time: typing_extensions.Annotated[typing.Optional[dt.datetime], FieldMetadata(alias="endTime")] = None
    completion_start_time: typing_extensions.Annotated[
        typing.Optional[dt.datetime], FieldMetadata(alias="completionStartTime")
    ] = None
    model: typing.Optional[str] = None
    model_parameters: typing_extensions.Annotated[
        typing.Optional[typing.Dict[str, MapValue]], FieldMetadata(alias="modelParameters")
    ] = None
    input: typing.Optional[typing.Any] = None
    version: typing.Optional[str] = None
    metadata: typing.Optional[typing.Any] = None
    output: typing.Optional[typing.Any] = None
    usage: typing.Optional[Usage] = None
    level: ObservationLevel
    status_message: typing_extensions.Annotated[typing.Optional[str], FieldMetadata(alias="statusMessage")] = None
    parent_observation_id: typing_extensions.Annotated[
        typing.Optional[str], FieldMetadata(alias="parentObservationId")
    ] = None
    prompt_id: typing_extensions.Annotated[typing.Optional[str], FieldMetadata(alias="promptId")] = None
    usage_details: typing_extensions.Annotated[
        typing.Optional[typing.Dict[str, int]], FieldMetadata(alias="usageDetails")
    ] = None
    cost_details: typing_extensions.Annotated[
        typing.Optional[typing.Dict[str, float]], FieldMetadata(alias="costDetails")
    ] = None
    environment: typing.Optional[str] = None


class ObservationsView(Observation):
    prompt_name: typing_extensions.Annotated[typing.Optional[str], FieldMetadata(alias="promptName")] = None
    prompt_version: typing_extensions.Annotated[typing.Optional[int], FieldMetadata(alias="promptVersion")] = None
    model_id: typing_extensions.Annotated[typing.Optional[str], FieldMetadata(alias="modelId")] = None
    input_price: typing_extensions.Annotated[typing.Optional[float], FieldMetadata(alias="inputPrice")] = None
    output_price: typing_extensions.Annotated[typing.Optional[float], FieldMetadata(alias="outputPrice")] = None
    total_price: typing_extensions.Annotated[typing.Optional[float], FieldMetadata(alias="totalPrice")] = None
    calculated_input_cost: typing_extensions.Annotated[
        typing.Optional[float], FieldMetadata(alias="calculatedInputCost")
    ] = None
    calculated_output_cost: typing_extensions.Annotated[
        typing.Optional[float], FieldMetadata(alias="calculatedOutputCost")
    ] = None
    calculated_total_cost: typing_extensions.Annotated[
        typing.Optional[float], FieldMetadata(alias="calculatedTotalCost")
    ] = None
    latency: typing.Optional[float] = None
    time_to_first_token: typing_extensions.Annotated[
        typing.Optional[float], FieldMetadata(alias="timeToFirstToken")
    ] = None


class ObservationsViews(_Model):
    data: typing.List[ObservationsView]
    meta: MetaResponse


class _ScoreV1Base(_Model):
    id: str
    trace_id: typing_extensions.Annotated[str, FieldMetadata(alias="traceId")]
    name: str
    source: ScoreSource
    observation_id: typing_extensions.Annotated[typing.Optional[str], FieldMetadata(alias="observationId")] = None
    timestamp: dt.datetime
    created_at: typing_extensions.Annotated[dt.datetime, FieldMetadata(alias="createdAt")]
    updated_at: typing_extensions.Annotated[dt.datetime, FieldMetadata(alias="updatedAt")]
    author_user_id: typing_extensions.Annotated[typing.Optional[str], FieldMetadata(alias="authorUserId")] = None
    comment: typing.Optional[str] = None
    metadata: typing.Optional[typing.Any] = None
    config_id: typing_extensions.Annotated[typing.Optional[str], FieldMetadata(alias="configId")] = None
    queue_id: typing_extensions.Annotated[typing.Optional[str], FieldMetadata(alias="queueId")] = None
    environment: typing.Optional[str] = None


class ScoreV1Numeric(_ScoreV1Base):
    data_type: typing_extensions.Annotated[typing.Literal["NUMERIC"], FieldMetadata(alias="dataType")] = "NUMERIC"
    value: float


class ScoreV1Categorical(_ScoreV1Base):
    data_type: typing_extensions.Annotated[typing.Literal["CATEGORICAL"], FieldMetadata(alias="dataType")] = (
        "CATEGORICAL"
    )
    value: float
    string_value: typing_extensions.Annotated[str, FieldMetadata(alias="stringValue")]


class ScoreV1Boolean(_ScoreV1Base):
    data_type: typing_extensions.Annotated[typing.Literal["BOOLEAN"], FieldMetadata(alias="dataType")] = "BOOLEAN"
    value: float
    string_value: typing_extensions.Annotated[str, FieldMetadata(alias="stringValue")]


ScoreV1 = typing_extensions.Annotated[
    typing.Union[ScoreV1Numeric, ScoreV1Categorical, ScoreV1Boolean], pydantic.Field(discriminator="data_type")
]


class TraceWithFullDetails(Trace):
    html_path: typing_extensions.Annotated[str, FieldMetadata(alias="htmlPath")]
    latency: typing.Optional[float] = None
    total_cost: typing_extensions.Annotated[typing.Optional[float], FieldMetadata(alias="totalCost")] = None
    observations: typing.List[ObservationsView]
    scores: typing.List[ScoreV1]


class Session(_Model):
    id: str
    created_at: typing_extensions.Annotated[dt.datetime, FieldMetadata(alias="createdAt")]
    project_id: typing_extensions.Annotated[str, FieldMetadata(alias="projectId")]
    environment: typing.Optional[str] = None


class SessionWithTraces(Session):
    traces: typing.List[Trace]


class PaginatedSessions(_Model):
    data: typing.List[Session]
    meta: MetaResponse


class ScoreTraceData(_Model):
    user_id: typing_extensions.Annotated[typing.Optional[str], FieldMetadata(alias="userId")] = None
    tags: typing.Optional[list[str]] = None
    environment: typing.Optional[str] = None
    session_id: typing_extensions.Annotated[typing.Optional[str], FieldMetadata(alias="sessionId")] = None


class _WithTrace(_Model):
    trace: typing.Optional[ScoreTraceData] = None


class ScoresDataNumeric(NumericScore, _WithTrace):
    data_type: typing_extensions.Annotated[typing.Literal["NUMERIC"], FieldMetadata(alias="dataType")] = "NUMERIC"


class ScoresDataCategorical(CategoricalScore, _WithTrace):
    data_type: typing_extensions.Annotated[typing.Literal["CATEGORICAL"], FieldMetadata(alias="dataType")] = (
        "CATEGORICAL"
    )


class ScoresDataBoolean(BooleanScore, _WithTrace):
    data_type: typing_extensions.Annotated[typing.Literal["BOOLEAN"], FieldMetadata(alias="dataType")] = "BOOLEAN"


class ScoresDataCorrection(CorrectionScore, _WithTrace):
    data_type: typing_extensions.Annotated[typing.Literal["CORRECTION"], FieldMetadata(alias="dataType")] = "CORRECTION"


class ScoresDataText(TextScore, _WithTrace):
    data_type: typing_extensions.Annotated[typing.Literal["TEXT"], FieldMetadata(alias="dataType")] = "TEXT"


ScoresData = typing_extensions.Annotated[
    typing.Union[ScoresDataNumeric, ScoresDataCategorical, ScoresDataBoolean, ScoresDataCorrection, ScoresDataText],
    pydantic.Field(discriminator="data_type"),
]


class GetScoresResponse(_Model):
    data: typing.List[ScoresData]
    meta: MetaResponse
