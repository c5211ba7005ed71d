-- Public read API (score configs, comments).

-- TEXT score configs: the public API accepts dataType TEXT (free-text scores of 1-500 characters),
-- and the ingestion worker already validates TEXT scores against such configs.
ALTER TABLE score_configs DROP CONSTRAINT IF EXISTS score_configs_data_type_check;
ALTER TABLE score_configs ADD CONSTRAINT score_configs_data_type_check
    CHECK (data_type IN ('NUMERIC', 'CATEGORICAL', 'BOOLEAN', 'TEXT'));

-- Paged lists, newest first.
CREATE INDEX score_configs_created_at_idx ON score_configs (project_id, created_at DESC, id);
CREATE INDEX comments_created_at_idx ON comments (project_id, created_at DESC, id);
