"""Datasets, dataset items (versioned by a trigger, see 0001), dataset runs, run items and
experiments in PostgreSQL: one small repository per job, SQL only.

    rows.py         the row structs and errors the repositories return and raise
    datasets.py     DatasetsRepo      datasets: create, by name, which ids exist, list
    items.py        ItemsRepo         dataset items: upsert, get, list (now or as of a moment), delete
    runs.py         RunsRepo          dataset runs by name; upsert_run_by_id (experiments choose their id)
    run_items.py    RunItemsRepo      run items, upserted on (run, dataset item, trace); list
    experiments.py  ExperimentsRepo   runs as experiments: record one with its items, list runs and items

Runs double as experiments: a run without a dataset is an SDK experiment over local data.
Which spans and events become runs and run items is decided by the ingestion worker
(spyglass.collector.worker.experiments); the REST use cases live in spyglass.query.datasets.
"""

from spyglass.store.postgres.datasets.datasets import DatasetsRepo
from spyglass.store.postgres.datasets.experiments import ExperimentsRepo
from spyglass.store.postgres.datasets.items import ItemsRepo
from spyglass.store.postgres.datasets.rows import (
    DEFAULT_ENVIRONMENT,
    DatasetConflict,
    DatasetNotFound,
    DatasetRow,
    ExperimentItemRow,
    ExperimentRow,
    ItemRow,
    RunItemRow,
    RunItemWrite,
    RunRow,
)
from spyglass.store.postgres.datasets.run_items import RunItemsRepo
from spyglass.store.postgres.datasets.runs import RunsRepo

__all__ = [
    "DEFAULT_ENVIRONMENT",
    "DatasetConflict",
    "DatasetNotFound",
    "DatasetRow",
    "DatasetsRepo",
    "ExperimentItemRow",
    "ExperimentRow",
    "ExperimentsRepo",
    "ItemRow",
    "ItemsRepo",
    "RunItemRow",
    "RunItemWrite",
    "RunItemsRepo",
    "RunRow",
    "RunsRepo",
]
