-- Core observability tables. Templated: {on_cluster} is empty on a single node and
-- `ON CLUSTER <name>` on a cluster; {replacing} is ReplacingMergeTree or its Replicated twin.
-- Times are DateTime64(6) (microseconds) in UTC. Every table is versioned by event_ts, and
-- is_deleted=1 rows are tombstones: readers take the newest version of an id
-- (ORDER BY event_ts DESC LIMIT 1 BY id) and drop it if it is a tombstone.

CREATE TABLE IF NOT EXISTS traces {on_cluster} (
    id String,
    project_id String,
    timestamp DateTime64(6, 'UTC'),
    name String DEFAULT '',
    user_id Nullable(String),
    session_id Nullable(String),
    release Nullable(String),
    version Nullable(String),
    environment LowCardinality(String) DEFAULT 'default',
    metadata Map(LowCardinality(String), String),
    tags Array(String),
    public Bool DEFAULT false,
    bookmarked Bool DEFAULT false,
    input Nullable(String) CODEC(ZSTD(3)),
    output Nullable(String) CODEC(ZSTD(3)),
    created_at DateTime64(6, 'UTC') DEFAULT now64(6),
    updated_at DateTime64(6, 'UTC') DEFAULT now64(6),
    event_ts DateTime64(6, 'UTC'),
    is_deleted UInt8 DEFAULT 0,
    INDEX idx_id id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_user_id user_id TYPE bloom_filter() GRANULARITY 1,
    INDEX idx_session_id session_id TYPE bloom_filter() GRANULARITY 1,
    INDEX idx_tags tags TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = {replacing}(event_ts, is_deleted)
PARTITION BY toYYYYMM(timestamp)
PRIMARY KEY (project_id, toDate(timestamp))
ORDER BY (project_id, toDate(timestamp), id);

CREATE TABLE IF NOT EXISTS observations {on_cluster} (
    id String,
    trace_id String,
    project_id String,
    type LowCardinality(String),
    parent_observation_id Nullable(String),
    environment LowCardinality(String) DEFAULT 'default',
    start_time DateTime64(6, 'UTC'),
    end_time Nullable(DateTime64(6, 'UTC')),
    completion_start_time Nullable(DateTime64(6, 'UTC')),
    name String DEFAULT '',
    metadata Map(LowCardinality(String), String),
    level LowCardinality(String) DEFAULT 'DEFAULT',
    status_message Nullable(String),
    version Nullable(String),
    input Nullable(String) CODEC(ZSTD(3)),
    output Nullable(String) CODEC(ZSTD(3)),
    provided_model_name Nullable(String),
    internal_model_id Nullable(String),
    model_parameters Nullable(String),
    provided_usage_details Map(LowCardinality(String), UInt64),
    usage_details Map(LowCardinality(String), UInt64),
    provided_cost_details Map(LowCardinality(String), Decimal64(12)),
    cost_details Map(LowCardinality(String), Decimal64(12)),
    total_cost Nullable(Decimal64(12)),
    prompt_id Nullable(String),
    prompt_name Nullable(String),
    prompt_version Nullable(UInt16),
    usage_pricing_tier_id Nullable(String),
    usage_pricing_tier_name Nullable(String),
    tool_definitions Map(String, String),
    tool_calls Array(String),
    tool_call_names Array(String),
    -- OpenTelemetry detail kept verbatim (JSON arrays), so nothing a client sent is lost.
    otel_events String DEFAULT '' CODEC(ZSTD(3)),
    otel_links String DEFAULT '',
    created_at DateTime64(6, 'UTC') DEFAULT now64(6),
    updated_at DateTime64(6, 'UTC') DEFAULT now64(6),
    event_ts DateTime64(6, 'UTC'),
    is_deleted UInt8 DEFAULT 0,
    INDEX idx_id id TYPE bloom_filter() GRANULARITY 1,
    INDEX idx_trace_id trace_id TYPE bloom_filter() GRANULARITY 1
) ENGINE = {replacing}(event_ts, is_deleted)
PARTITION BY toYYYYMM(start_time)
PRIMARY KEY (project_id, type, toDate(start_time))
ORDER BY (project_id, type, toDate(start_time), id);

CREATE TABLE IF NOT EXISTS scores {on_cluster} (
    id String,
    project_id String,
    timestamp DateTime64(6, 'UTC'),
    environment LowCardinality(String) DEFAULT 'default',
    trace_id Nullable(String),
    observation_id Nullable(String),
    session_id Nullable(String),
    dataset_run_id Nullable(String),
    name String,
    value Float64,
    source LowCardinality(String) DEFAULT 'API',
    comment Nullable(String) CODEC(ZSTD(1)),
    metadata Map(LowCardinality(String), String),
    author_user_id Nullable(String),
    config_id Nullable(String),
    data_type LowCardinality(String) DEFAULT 'NUMERIC',
    string_value Nullable(String),
    long_string_value String DEFAULT '' CODEC(ZSTD(3)),
    queue_id Nullable(String),
    execution_trace_id Nullable(String),
    created_at DateTime64(6, 'UTC') DEFAULT now64(6),
    updated_at DateTime64(6, 'UTC') DEFAULT now64(6),
    event_ts DateTime64(6, 'UTC'),
    is_deleted UInt8 DEFAULT 0,
    INDEX idx_id id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_trace_observation (trace_id, observation_id) TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_session session_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_dataset_run dataset_run_id TYPE bloom_filter(0.001) GRANULARITY 1
) ENGINE = {replacing}(event_ts, is_deleted)
PARTITION BY toYYYYMM(timestamp)
PRIMARY KEY (project_id, toDate(timestamp), name)
ORDER BY (project_id, toDate(timestamp), name, id);

-- One row per raw payload the worker has committed. Recovery after a crash re-queues every
-- raw payload that is in the blob store but not here; replays are harmless because rows are
-- versioned by the payload's receive time, so a re-insert is an identical row.
CREATE TABLE IF NOT EXISTS ingest_log {on_cluster} (
    blob_key String,
    project_id String,
    source LowCardinality(String),
    received_at DateTime64(6, 'UTC'),
    processed_at DateTime64(6, 'UTC') DEFAULT now64(6),
    items UInt32,
    rejected UInt32 DEFAULT 0
) ENGINE = {replacing}(processed_at)
PARTITION BY toYYYYMM(received_at)
ORDER BY (toStartOfHour(received_at), blob_key);
