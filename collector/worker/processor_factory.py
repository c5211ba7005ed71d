"""The one way to build the worker's RowProcessor: with every PostgreSQL-backed hook.

The live worker, crash recovery and `spyglass replay` all process payloads through it, so a
replayed payload meets exactly the checks (score configs, models, prompts) a live one does.
"""

from __future__ import annotations

from spyglass.collector.worker.experiments import record_experiment_items, record_run_item_events
from spyglass.collector.worker.map_pool import PayloadMapper
from spyglass.collector.worker.merge import RowProcessor
from spyglass.store.postgres.models_repo import load_model_definitions
from spyglass.store.postgres.prompts_repo import resolve_prompt_ids
from spyglass.store.postgres.score_configs_repo import load_score_configs
from spyglass.store.stores import Stores


def build_processor(stores: Stores, *, mapper: PayloadMapper) -> RowProcessor:
    pool = stores.pg
    return RowProcessor(
        stores.ch,
        mapper=mapper,
        locks=stores.merge_locks,
        load_models=lambda pid: load_model_definitions(pool, pid),
        record_experiments=lambda pid, items: record_experiment_items(pool, pid, items),
        record_run_items=lambda pid, items: record_run_item_events(pool, pid, items),
        resolve_prompts=lambda pid, pairs: resolve_prompt_ids(pool, pid, pairs),
        load_score_configs=lambda pid, ids: load_score_configs(pool, pid, ids),
    )
