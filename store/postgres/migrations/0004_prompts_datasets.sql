-- Prompt management, datasets and experiments: what the public API needs beyond 0001.
-- Follows the conventions written at the top of 0001_core.sql.

-- ---------------------------------------------------------------------------------------------
-- Experiments are dataset runs
-- ---------------------------------------------------------------------------------------------

-- The SDKs' run_experiment also runs over local data (no dataset). Those experiments are kept
-- as runs without a dataset, so one table answers both the dataset-run and the experiments
-- APIs. With dataset_id NULL the (dataset_id, project_id) foreign key is not checked, so the
-- run needs its own link to the project for cascading deletes.
ALTER TABLE dataset_runs ALTER COLUMN dataset_id DROP NOT NULL;
ALTER TABLE dataset_runs
    ADD CONSTRAINT dataset_runs_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE;
-- The experiments API lists by time across datasets.
CREATE INDEX dataset_runs_project_id_created_at_idx ON dataset_runs (project_id, created_at);

-- One execution of a dataset item (or local experiment item) within a run: the trace it
-- produced. Written by POST /dataset-run-items, the dataset-run-item-create ingestion event
-- and the ingestion worker (spans carrying langfuse.experiment.*); all three upsert on
-- (run, item, trace) so replays and the REST + span double path of the JS SDK never duplicate.
CREATE TABLE dataset_run_items (
    id                    text NOT NULL,
    project_id            text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    dataset_run_id        text NOT NULL,
    -- NULL for experiments over local data; then dataset_item_id is the SDK's content hash.
    dataset_id            text,
    -- No FK: the item may be deleted later and the run must still read back.
    dataset_item_id       text NOT NULL,
    -- No FK: traces live in ClickHouse (and may arrive after the run item).
    trace_id              text NOT NULL,
    observation_id        text,
    -- The dataset version the item was read at (SDK get_dataset(version=...)), if any.
    dataset_item_version  timestamptz,
    environment           text NOT NULL DEFAULT 'default',
    -- The item's execution window as reported by its spans; NULL until spans arrive.
    start_time            timestamptz,
    end_time              timestamptz,
    -- Item snapshot carried by the spans (local experiments have no dataset item to join).
    expected_output       jsonb,
    item_metadata         jsonb,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, project_id),
    FOREIGN KEY (dataset_run_id, project_id) REFERENCES dataset_runs (id, project_id) ON DELETE CASCADE,
    UNIQUE (project_id, dataset_run_id, dataset_item_id, trace_id)
);
CREATE INDEX dataset_run_items_run_idx ON dataset_run_items (project_id, dataset_run_id, created_at);
CREATE INDEX dataset_run_items_item_idx ON dataset_run_items (project_id, dataset_item_id);
CREATE INDEX dataset_run_items_trace_idx ON dataset_run_items (project_id, trace_id);
CREATE INDEX dataset_run_items_time_idx ON dataset_run_items (project_id, (coalesce(start_time, created_at)));

CREATE TRIGGER dataset_run_items_set_updated_at BEFORE UPDATE ON dataset_run_items
    FOR EACH ROW EXECUTE FUNCTION spyglass_set_updated_at();

-- ---------------------------------------------------------------------------------------------
-- Prompts
-- ---------------------------------------------------------------------------------------------

-- Listing filters and sorts versions by update time within a project.
CREATE INDEX prompts_project_id_updated_at_idx ON prompts (project_id, updated_at);
