-- Spyglass transactional store: the Langfuse entities that live in Postgres.
--
-- Conventions (follow them in later migrations):
--   * Column names are the snake_case of Langfuse's fields (its Prisma @map names), so code and
--     docs written against Langfuse's schema read the same here.
--   * Ids are text. Langfuse generates cuids and accepts client-chosen ids in places (dataset
--     items, sessions), so nothing assumes a format.
--   * Times are timestamptz. created_at/updated_at default to now(); updated_at is maintained by
--     the spyglass_set_updated_at trigger, so writers need not set it.
--   * Closed vocabularies are text + CHECK rather than enum types: adding a value is then a plain
--     ALTER ... CONSTRAINT in a migration instead of ALTER TYPE, which cannot run in a transaction
--     block on older servers.
--   * Project-owned rows cascade on project deletion. Projects are normally soft-deleted
--     (deleted_at); a hard delete is the purge.
--   * JSON is jsonb unless the original text must survive verbatim (key order, duplicates), as
--     Langfuse does for JSON schemas; those columns are json.
--   * Requires PostgreSQL 15+ (UNIQUE NULLS NOT DISTINCT).

CREATE FUNCTION spyglass_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

-- ---------------------------------------------------------------------------------------------
-- Tenancy and identity
-- ---------------------------------------------------------------------------------------------

CREATE TABLE organizations (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    metadata    jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE organizations IS 'Tenants. An organization owns projects; users join it with a role.';
CREATE INDEX organizations_name_idx ON organizations (name);

CREATE TABLE projects (
    id              text PRIMARY KEY,
    org_id          text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE ON UPDATE CASCADE,
    name            text NOT NULL,
    -- Days after which traces, observations, scores and media are deleted; NULL keeps forever.
    retention_days  integer CHECK (retention_days IS NULL OR retention_days >= 0),
    metadata        jsonb,
    -- Set by the first ingested trace; the UI uses it to show onboarding.
    has_traces      boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Soft delete: the project disappears from every read and its keys stop authenticating;
    -- its data is purged later by a background job.
    deleted_at      timestamptz
);
COMMENT ON TABLE projects IS 'All observability data is partitioned by project_id.';
CREATE INDEX projects_org_id_idx ON projects (org_id);
-- Names are unique among the live projects of an organization (a deleted name can be reused).
CREATE UNIQUE INDEX projects_org_id_name_live_key ON projects (org_id, name) WHERE deleted_at IS NULL;
CREATE INDEX projects_name_idx ON projects (name) WHERE deleted_at IS NULL;

CREATE TABLE users (
    id              text PRIMARY KEY,
    name            text,
    email           text,
    email_verified  timestamptz,
    -- KDF output in PHC-like form, e.g. 'scrypt$16384$8$1$<salt b64>$<hash b64>'. NULL for users
    -- that sign in through SSO only. (Langfuse's column is `password`, holding bcrypt.)
    password_hash   text,
    image           text,
    -- Instance administrator (Langfuse's `admin`), independent of organization roles.
    admin           boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- Emails compare case-insensitively; writers store them as given.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE organization_memberships (
    id          text PRIMARY KEY,
    org_id      text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- NONE: member of the organization without access to its projects unless a project role
    -- grants it.
    role        text NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER', 'VIEWER', 'NONE')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, user_id)
);
CREATE INDEX organization_memberships_user_id_idx ON organization_memberships (user_id);

-- A project role overrides the organization role for that one project.
CREATE TABLE project_memberships (
    org_membership_id  text NOT NULL REFERENCES organization_memberships (id) ON DELETE CASCADE,
    project_id         text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id            text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role               text NOT NULL CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER', 'VIEWER')),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_memberships_user_id_idx ON project_memberships (user_id);
CREATE INDEX project_memberships_org_membership_id_idx ON project_memberships (org_membership_id);

CREATE TABLE api_keys (
    id                  text PRIMARY KEY,
    created_at          timestamptz NOT NULL DEFAULT now(),
    note                text,
    -- Basic-auth user name, 'pk-lf-<uuid>' (headless init may supply any string).
    public_key          text NOT NULL UNIQUE,
    -- sha256hex(secret || sha256hex(SALT)): Langfuse's `fast_hashed_secret_key`. The secret itself
    -- is never stored; it is shown once at creation. Rotating SALT invalidates every key.
    hashed_secret_key   text NOT NULL UNIQUE,
    -- First 6 and last 4 characters of the secret, e.g. 'sk-lf-...abcd'.
    display_secret_key  text NOT NULL,
    last_used_at        timestamptz,
    expires_at          timestamptz,
    -- Revoked keys are kept (audit, "last used") but never authenticate. Langfuse deletes them.
    revoked_at          timestamptz,
    -- PROJECT keys carry both ids (the org is denormalised so authentication needs one row);
    -- ORGANIZATION keys have no project and unlock the org/admin APIs.
    project_id          text REFERENCES projects (id) ON DELETE CASCADE,
    organization_id     text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    scope               text NOT NULL DEFAULT 'PROJECT' CHECK (scope IN ('PROJECT', 'ORGANIZATION')),
    CHECK ((scope = 'PROJECT') = (project_id IS NOT NULL))
);
CREATE INDEX api_keys_project_id_idx ON api_keys (project_id);
CREATE INDEX api_keys_organization_id_idx ON api_keys (organization_id);

-- ---------------------------------------------------------------------------------------------
-- Prompts
-- ---------------------------------------------------------------------------------------------

CREATE TABLE prompts (
    id              text PRIMARY KEY,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    project_id      text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- User id, or 'API' when created through the public API.
    created_by      text NOT NULL,
    -- A JSON string for type 'text', an array of messages/placeholders for type 'chat'.
    prompt          jsonb NOT NULL,
    name            text NOT NULL,
    -- 1, 2, ... per (project_id, name); a new version is max + 1.
    version         integer NOT NULL CHECK (version >= 1),
    type            text NOT NULL DEFAULT 'text' CHECK (type IN ('text', 'chat')),
    config          jsonb NOT NULL DEFAULT '{}',
    -- Shared by all versions of a name (rewritten on every version when they change).
    tags            text[] NOT NULL DEFAULT '{}',
    -- Unique per name across versions ('production', 'latest', ...): moving a label removes it
    -- from the version that had it, in the same transaction.
    labels          text[] NOT NULL DEFAULT '{}',
    commit_message  text,
    UNIQUE (project_id, name, version)
);
CREATE INDEX prompts_created_at_idx ON prompts (project_id, created_at);
CREATE INDEX prompts_tags_idx ON prompts USING gin (tags);
CREATE INDEX prompts_labels_idx ON prompts USING gin (labels);

-- Edges of the composition graph: a parent version references a child by name and either a
-- label or a version (the @@@langfusePrompt:...@@@ tags found in the parent at creation).
CREATE TABLE prompt_dependencies (
    id             text PRIMARY KEY,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    project_id     text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    parent_id      text NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    child_name     text NOT NULL,
    child_label    text,
    child_version  integer,
    CHECK ((child_label IS NULL) <> (child_version IS NULL))
);
CREATE INDEX prompt_dependencies_project_id_parent_id ON prompt_dependencies (project_id, parent_id);
CREATE INDEX prompt_dependencies_project_id_child_name ON prompt_dependencies (project_id, child_name);

-- Labels only admins may move (enforced by the UI layer, not by the public API, as upstream).
CREATE TABLE prompt_protected_labels (
    id          text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    project_id  text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    label       text NOT NULL,
    UNIQUE (project_id, label)
);

-- ---------------------------------------------------------------------------------------------
-- Datasets
-- ---------------------------------------------------------------------------------------------

CREATE TABLE datasets (
    id                         text NOT NULL,
    project_id                 text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name                       text NOT NULL,
    description                text,
    metadata                   jsonb,
    -- Remote experiments: the UI posts remote_experiment_payload to this URL to start a run.
    remote_experiment_url      text,
    remote_experiment_payload  jsonb,
    -- JSON Schemas that item input / expected_output must satisfy. Kept as json (not jsonb) so
    -- the schema reads back exactly as written.
    input_schema               json,
    expected_output_schema     json,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, project_id),
    UNIQUE (project_id, name)
);
CREATE INDEX datasets_created_at_idx ON datasets (project_id, created_at);

-- The current state of each item. Every change is also recorded in dataset_item_versions by a
-- trigger, so writers only ever touch this table.
CREATE TABLE dataset_items (
    id                     text NOT NULL,
    project_id             text NOT NULL,
    dataset_id             text NOT NULL,
    status                 text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'ARCHIVED')),
    input                  jsonb,
    expected_output        jsonb,
    metadata               jsonb,
    -- Where the item was copied from, if it was (no FK: traces live in ClickHouse).
    source_trace_id        text,
    source_observation_id  text,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    -- Ids are client-chosen (upsert by id), hence unique per project only.
    PRIMARY KEY (id, project_id),
    FOREIGN KEY (dataset_id, project_id) REFERENCES datasets (id, project_id) ON DELETE CASCADE
);
CREATE INDEX dataset_items_dataset_id_idx ON dataset_items (project_id, dataset_id, created_at);
CREATE INDEX dataset_items_source_trace_id_idx ON dataset_items (project_id, source_trace_id)
    WHERE source_trace_id IS NOT NULL;
CREATE INDEX dataset_items_source_observation_id_idx ON dataset_items (project_id, source_observation_id)
    WHERE source_observation_id IS NOT NULL;

-- History of dataset_items: one row per state an item was in, valid over [valid_from, valid_to).
-- valid_to IS NULL marks the current row; is_deleted rows are tombstones. The items of a dataset
-- as of time T (an experiment's "dataset version"):
--   SELECT * FROM dataset_item_versions
--   WHERE project_id = $1 AND dataset_id = $2 AND valid_from <= $T
--     AND (valid_to IS NULL OR valid_to > $T) AND NOT is_deleted
-- (Langfuse keeps these columns on dataset_items itself; a separate table keeps the current
-- state a plain primary-key lookup.)
CREATE TABLE dataset_item_versions (
    id                     text NOT NULL,
    project_id             text NOT NULL,
    dataset_id             text NOT NULL,
    valid_from             timestamptz NOT NULL,
    valid_to               timestamptz,
    is_deleted             boolean NOT NULL DEFAULT false,
    status                 text NOT NULL,
    input                  jsonb,
    expected_output        jsonb,
    metadata               jsonb,
    source_trace_id        text,
    source_observation_id  text,
    created_at             timestamptz NOT NULL,
    PRIMARY KEY (project_id, id, valid_from),
    FOREIGN KEY (dataset_id, project_id) REFERENCES datasets (id, project_id) ON DELETE CASCADE,
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);
CREATE INDEX dataset_item_versions_as_of_idx ON dataset_item_versions (project_id, dataset_id, valid_from);
CREATE UNIQUE INDEX dataset_item_versions_current_key ON dataset_item_versions (project_id, id)
    WHERE valid_to IS NULL;

-- Close the current version of an item and open a new one. Several changes in one transaction
-- share now(), so the version opened earlier in the same transaction is rewritten instead.
CREATE FUNCTION spyglass_record_dataset_item_version() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r dataset_items;
    deleted boolean := TG_OP = 'DELETE';
BEGIN
    IF deleted THEN
        r := OLD;
        -- The whole dataset is going (cascade): its history goes with it, no tombstone.
        PERFORM 1 FROM datasets WHERE id = OLD.dataset_id AND project_id = OLD.project_id;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
    ELSE
        r := NEW;
        IF TG_OP = 'UPDATE'
           AND (NEW.dataset_id, NEW.status, NEW.input, NEW.expected_output, NEW.metadata,
                NEW.source_trace_id, NEW.source_observation_id)
               IS NOT DISTINCT FROM
               (OLD.dataset_id, OLD.status, OLD.input, OLD.expected_output, OLD.metadata,
                OLD.source_trace_id, OLD.source_observation_id) THEN
            RETURN NULL;  -- nothing a reader can see changed
        END IF;
    END IF;

    DELETE FROM dataset_item_versions
     WHERE project_id = r.project_id AND id = r.id AND valid_to IS NULL AND valid_from = now();
    UPDATE dataset_item_versions SET valid_to = now()
     WHERE project_id = r.project_id AND id = r.id AND valid_to IS NULL;
    INSERT INTO dataset_item_versions (
        id, project_id, dataset_id, valid_from, valid_to, is_deleted, status, input,
        expected_output, metadata, source_trace_id, source_observation_id, created_at)
    VALUES (
        r.id, r.project_id, r.dataset_id, now(), NULL, deleted, r.status, r.input,
        r.expected_output, r.metadata, r.source_trace_id, r.source_observation_id, r.created_at);
    RETURN NULL;
END;
$$;

CREATE TRIGGER dataset_items_history
    AFTER INSERT OR UPDATE OR DELETE ON dataset_items
    FOR EACH ROW EXECUTE FUNCTION spyglass_record_dataset_item_version();

CREATE TABLE dataset_runs (
    id           text NOT NULL,
    project_id   text NOT NULL,
    dataset_id   text NOT NULL,
    name         text NOT NULL,
    description  text,
    metadata     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, project_id),
    UNIQUE (dataset_id, project_id, name),
    FOREIGN KEY (dataset_id, project_id) REFERENCES datasets (id, project_id) ON DELETE CASCADE
);
CREATE INDEX dataset_runs_created_at_idx ON dataset_runs (project_id, dataset_id, created_at);

-- ---------------------------------------------------------------------------------------------
-- Models and prices (cost calculation)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE models (
    id                text PRIMARY KEY,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- NULL: a built-in model (from default-model-prices.json), visible to every project. A
    -- project's own definition with the same model_name takes precedence.
    project_id        text REFERENCES projects (id) ON DELETE CASCADE,
    model_name        text NOT NULL,
    -- Regex over the observation's model name, e.g. '(?i)^(openai/)?(gpt-4o)$'.
    match_pattern     text NOT NULL,
    -- Prices apply to observations starting at/after this; NULL means since always.
    start_date        timestamptz,
    -- Legacy flat prices (USD per unit), superseded by pricing_tiers/prices.
    input_price       numeric,
    output_price      numeric,
    total_price       numeric,
    -- TOKENS, CHARACTERS, MILLISECONDS, SECONDS, REQUESTS or IMAGES (legacy).
    unit              text,
    tokenizer_id      text,
    tokenizer_config  jsonb,
    -- NULLs compare equal here, so there is one built-in row per name (upserts can target it).
    UNIQUE NULLS NOT DISTINCT (project_id, model_name, start_date, unit)
);
CREATE INDEX models_model_name_idx ON models (model_name);

-- Each model has exactly one default tier (priority 0, no conditions); other tiers apply when
-- their conditions match (usage thresholds or model parameters), lowest priority first.
CREATE TABLE pricing_tiers (
    id          text PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    model_id    text NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    name        text NOT NULL,
    is_default  boolean NOT NULL DEFAULT false,
    priority    integer NOT NULL,
    -- [{usageDetailPattern, operator, value, caseSensitive}] or
    -- [{source: model_parameters|metadata, key, operator: 'in', values}]; [] for the default.
    conditions  jsonb NOT NULL DEFAULT '[]',
    UNIQUE (model_id, priority),
    UNIQUE (model_id, name)
);
CREATE UNIQUE INDEX pricing_tiers_one_default_key ON pricing_tiers (model_id) WHERE is_default;

CREATE TABLE prices (
    id               text PRIMARY KEY,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    model_id         text NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    -- Copied from the model (NULL for built-ins) so project deletion cascades here too.
    project_id       text REFERENCES projects (id) ON DELETE CASCADE,
    pricing_tier_id  text NOT NULL REFERENCES pricing_tiers (id) ON DELETE CASCADE,
    -- A usage_details key: input, output, total, input_cached_tokens, ...
    usage_type       text NOT NULL,
    -- USD per unit of usage_type.
    price            numeric NOT NULL,
    UNIQUE (model_id, usage_type, pricing_tier_id)
);
CREATE INDEX prices_pricing_tier_id_idx ON prices (pricing_tier_id);

-- ---------------------------------------------------------------------------------------------
-- Scores, comments
-- ---------------------------------------------------------------------------------------------

CREATE TABLE score_configs (
    id           text PRIMARY KEY,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    project_id   text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name         text NOT NULL,
    data_type    text NOT NULL CHECK (data_type IN ('NUMERIC', 'CATEGORICAL', 'BOOLEAN')),
    -- Archived configs stay valid for existing scores but are hidden when annotating.
    is_archived  boolean NOT NULL DEFAULT false,
    min_value    double precision,
    max_value    double precision,
    -- CATEGORICAL: [{label, value}]; BOOLEAN: [{label:'True',value:1},{label:'False',value:0}].
    categories   jsonb,
    description  text
);
CREATE INDEX score_configs_project_id_idx ON score_configs (project_id, name);

CREATE TABLE comments (
    id              text PRIMARY KEY,
    project_id      text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    object_type     text NOT NULL CHECK (object_type IN ('TRACE', 'OBSERVATION', 'SESSION', 'PROMPT')),
    -- No FK: traces, observations and sessions live in ClickHouse.
    object_id       text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Markdown.
    content         text NOT NULL,
    -- No FK: a comment outlives its author's account.
    author_user_id  text,
    -- Inline anchoring (all set or all empty): which field ('input'|'output'|'metadata'), JSON
    -- paths into it, and per-path [start, end) offsets in UTF-16 code units.
    data_field      text,
    path            text[] NOT NULL DEFAULT '{}',
    range_start     integer[] NOT NULL DEFAULT '{}',
    range_end       integer[] NOT NULL DEFAULT '{}'
);
CREATE INDEX comments_object_idx ON comments (project_id, object_type, object_id);

CREATE TABLE comment_reactions (
    id          text PRIMARY KEY,
    project_id  text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    comment_id  text NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (comment_id, user_id, emoji)
);

-- ---------------------------------------------------------------------------------------------
-- Media (attachments uploaded by the SDKs)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE media (
    id                  text NOT NULL,
    project_id          text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- base64 of the SHA-256 of the bytes (44 chars), as the SDK sends it.
    sha_256_hash        text NOT NULL,
    content_type        text NOT NULL,
    content_length      bigint NOT NULL CHECK (content_length >= 0),
    bucket_name         text NOT NULL,
    -- Object key of the file in the media bucket (or local media directory).
    bucket_path         text NOT NULL,
    -- Set when the SDK reports a finished upload: uploaded_at on success, the HTTP status and
    -- error text either way. uploaded_at IS NULL means the upload is pending (or failed).
    uploaded_at         timestamptz,
    upload_http_status  integer,
    upload_http_error   text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, id),
    -- A file's identity: the same bytes with the same type are stored once per project.
    UNIQUE (project_id, sha_256_hash, content_type)
);
CREATE INDEX media_created_at_idx ON media (project_id, created_at);

-- Where a media file is referenced. field is 'input', 'output' or 'metadata'.
CREATE TABLE trace_media (
    id          text PRIMARY KEY,
    project_id  text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    media_id    text NOT NULL,
    trace_id    text NOT NULL,
    field       text NOT NULL,
    UNIQUE (project_id, trace_id, media_id, field),
    FOREIGN KEY (project_id, media_id) REFERENCES media (project_id, id) ON DELETE CASCADE
);
CREATE INDEX trace_media_media_id_idx ON trace_media (project_id, media_id);

CREATE TABLE observation_media (
    id              text PRIMARY KEY,
    project_id      text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    media_id        text NOT NULL,
    trace_id        text NOT NULL,
    observation_id  text NOT NULL,
    field           text NOT NULL,
    UNIQUE (project_id, trace_id, observation_id, media_id, field),
    FOREIGN KEY (project_id, media_id) REFERENCES media (project_id, id) ON DELETE CASCADE
);
CREATE INDEX observation_media_media_id_idx ON observation_media (project_id, media_id);

-- ---------------------------------------------------------------------------------------------
-- Sessions (the mutable flags; session contents are the traces in ClickHouse)
-- ---------------------------------------------------------------------------------------------

CREATE TABLE trace_sessions (
    -- The SDK's sessionId, chosen by the client.
    id           text NOT NULL,
    project_id   text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    environment  text NOT NULL DEFAULT 'default',
    bookmarked   boolean NOT NULL DEFAULT false,
    -- Shared by public link.
    public       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id, project_id)
);
CREATE INDEX trace_sessions_created_at_idx ON trace_sessions (project_id, created_at DESC);

-- ---------------------------------------------------------------------------------------------
-- Ingestion dead letters
-- ---------------------------------------------------------------------------------------------

-- Payloads the ingestion worker can never process (PermanentError, or retries exhausted). The
-- payload itself stays in blob storage under blob_key; this row says why it was set aside.
CREATE TABLE dead_letters (
    id          text PRIMARY KEY,
    -- NULL when the payload could not even be attributed to a project. No FK: a dead letter
    -- for an unknown or deleted project is still worth keeping.
    project_id  text,
    -- Which path it came in by: 'otel', 'ingestion', 'scores', ...
    source      text NOT NULL,
    blob_key    text,
    -- One line: the error kind and message.
    reason      text NOT NULL,
    attempts    integer NOT NULL DEFAULT 1 CHECK (attempts >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letters_created_at_idx ON dead_letters (created_at);
CREATE INDEX dead_letters_project_id_idx ON dead_letters (project_id, created_at) WHERE project_id IS NOT NULL;

-- ---------------------------------------------------------------------------------------------
-- updated_at maintenance
-- ---------------------------------------------------------------------------------------------

-- Listed explicitly: the database may be shared, and other tables are not ours to touch.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'organizations', 'projects', 'users', 'organization_memberships', 'project_memberships',
        'prompts', 'prompt_dependencies', 'prompt_protected_labels', 'datasets', 'dataset_items',
        'dataset_runs', 'models', 'pricing_tiers', 'prices', 'score_configs', 'comments', 'media',
        'trace_media', 'observation_media', 'trace_sessions']
    LOOP
        EXECUTE format(
            'CREATE TRIGGER %I BEFORE UPDATE ON %I FOR EACH ROW EXECUTE FUNCTION spyglass_set_updated_at()',
            t || '_set_updated_at', t);
    END LOOP;
END;
$$;
