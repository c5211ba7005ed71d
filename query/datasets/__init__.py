"""Datasets, dataset items, dataset runs and experiments.

REST (POST /dataset-run-items):
    await create_run_item(pool, project_id, RunItemRequest(...), ch=ch)      # → DatasetRunItem JSON
    experiment_run_id(project_id, dataset_id, run_name)                      # the SDK's derived run id
The ingestion worker's entry points (no HTTP involved) are in spyglass.collector.worker.experiments:
    await record_experiment_items(pool, project_id, map_result.experiments)  # spans with langfuse.experiment.*
    await record_run_item_events(pool, project_id, events)                   # dataset-run-item-create events
"""

from spyglass.query.datasets.runs import RunItemRequest, create_run_item, experiment_run_id

__all__ = ["RunItemRequest", "create_run_item", "experiment_run_id"]
