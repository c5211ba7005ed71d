"""Row shapes of the ClickHouse tables, as written by the worker (JSONEachRow).

Times are float seconds since the epoch. msgspec writes the shortest exact decimal, which
ClickHouse parses exactly into DateTime64(6): microseconds survive the round trip (checked on
300k random values). A JSON integer would be rejected as out of range, so never send ints.
Field names are the column names.
"""

from __future__ import annotations

import msgspec

Seconds = float


class TraceRow(msgspec.Struct, kw_only=True, omit_defaults=False):
    id: str
    project_id: str
    timestamp: Seconds
    name: str = ""
    user_id: str | None = None
    session_id: str | None = None
    release: str | None = None
    version: str | None = None
    environment: str = "default"
    metadata: dict[str, str] = {}
    tags: list[str] = []
    public: bool = False
    bookmarked: bool = False
    input: str | None = None
    output: str | None = None
    created_at: Seconds = 0.0
    updated_at: Seconds = 0.0
    event_ts: Seconds = 0.0
    is_deleted: int = 0


class ObservationRow(msgspec.Struct, kw_only=True, omit_defaults=False):
    id: str
    trace_id: str
    project_id: str
    type: str = "SPAN"
    parent_observation_id: str | None = None
    environment: str = "default"
    start_time: Seconds = 0.0
    end_time: Seconds | None = None
    completion_start_time: Seconds | None = None
    name: str = ""
    metadata: dict[str, str] = {}
    level: str = "DEFAULT"
    status_message: str | None = None
    version: str | None = None
    input: str | None = None
    output: str | None = None
    provided_model_name: str | None = None
    internal_model_id: str | None = None
    model_parameters: str | None = None
    provided_usage_details: dict[str, int] = {}
    usage_details: dict[str, int] = {}
    provided_cost_details: dict[str, float] = {}
    cost_details: dict[str, float] = {}
    total_cost: float | None = None
    prompt_id: str | None = None
    prompt_name: str | None = None
    prompt_version: int | None = None
    usage_pricing_tier_id: str | None = None
    usage_pricing_tier_name: str | None = None
    tool_definitions: dict[str, str] = {}
    tool_calls: list[str] = []
    tool_call_names: list[str] = []
    otel_events: str = ""
    otel_links: str = ""
    created_at: Seconds = 0.0
    updated_at: Seconds = 0.0
    event_ts: Seconds = 0.0
    is_deleted: int = 0


class ScoreRow(msgspec.Struct, kw_only=True, omit_defaults=False):
    id: str
    project_id: str
    timestamp: Seconds
    name: str
    value: float = 0.0
    environment: str = "default"
    trace_id: str | None = None
    observation_id: str | None = None
    session_id: str | None = None
    dataset_run_id: str | None = None
    source: str = "API"
    comment: str | None = None
    metadata: dict[str, str] = {}
    author_user_id: str | None = None
    config_id: str | None = None
    data_type: str = "NUMERIC"
    string_value: str | None = None
    long_string_value: str = ""
    queue_id: str | None = None
    execution_trace_id: str | None = None
    created_at: Seconds = 0.0
    updated_at: Seconds = 0.0
    event_ts: Seconds = 0.0
    is_deleted: int = 0


class IngestLogRow(msgspec.Struct, kw_only=True):
    blob_key: str
    project_id: str
    source: str
    received_at: Seconds
    processed_at: Seconds
    items: int
    rejected: int = 0


# Tables whose rows `collector/worker/encode.json_each_row` writes as JSON arrays
# (JSONCompactEachRow), by their row type; the columns are the type's fields, in order.
COMPACT_ROWS: dict[str, type[msgspec.Struct]] = {
    "traces": TraceRow,
    "observations": ObservationRow,
    "scores": ScoreRow,
}
COMPACT_COLUMNS: dict[str, tuple[str, ...]] = {table: row.__struct_fields__ for table, row in COMPACT_ROWS.items()}

TIME_COLUMNS: dict[str, tuple[str, ...]] = {
    "traces": ("timestamp", "created_at", "updated_at", "event_ts"),
    "observations": ("start_time", "end_time", "completion_start_time", "created_at", "updated_at", "event_ts"),
    "scores": ("timestamp", "created_at", "updated_at", "event_ts"),
    "ingest_log": ("received_at", "processed_at"),
}
