-- Media uploaded for dataset items (the SDK's create_dataset_item with LangfuseMedia): the item
-- need not exist yet when the media is announced, so there is no foreign key to dataset_items.
-- field is 'input', 'expectedOutput' or 'metadata'.
CREATE TABLE dataset_item_media (
    id               text PRIMARY KEY,
    project_id       text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    media_id         text NOT NULL,
    dataset_id       text NOT NULL,
    dataset_item_id  text NOT NULL,
    field            text NOT NULL,
    UNIQUE (project_id, dataset_item_id, media_id, field),
    FOREIGN KEY (project_id, media_id) REFERENCES media (project_id, id) ON DELETE CASCADE
);
CREATE INDEX dataset_item_media_media_id_idx ON dataset_item_media (project_id, media_id);

CREATE TRIGGER dataset_item_media_set_updated_at BEFORE UPDATE ON dataset_item_media
    FOR EACH ROW EXECUTE FUNCTION spyglass_set_updated_at();

-- How long the SDK reported the upload took (PATCH /media/{id} uploadTimeMs); diagnostics only.
ALTER TABLE media ADD COLUMN upload_time_ms integer;

-- Project model lookups (the ingestion worker loads a project's models by project id).
CREATE INDEX models_project_id_idx ON models (project_id) WHERE project_id IS NOT NULL;
