"""Dataset runs and their items, from the three places they come from:

* `POST /api/public/dataset-run-items` (JS SDK experiments, py v2 `item.link`/`item.observe`):
  `create_run_item`, which answers with the DatasetRunItem including `datasetRunId`.
* the `dataset-run-item-create` ingestion event: `record_run_item_events` (ingestion worker,
  spyglass.collector.worker.experiments).
* spans carrying `langfuse.experiment.*` (py v5 `run_experiment`): `record_experiment_items`
  (ingestion worker, same module).

All three upsert the run item on (run, dataset item, trace), so replays and the JS SDK's REST
call followed by its spans end up as one item.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from spyglass.collector.http import bad_request, not_found
from spyglass.collector.worker.experiments import experiment_run_id, link_run_item
from spyglass.query.datasets.render import page_meta, run_item_json, run_json
from spyglass.query.reads.params import parse_datetime
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.postgres.datasets import DatasetNotFound, DatasetsRepo, RunItemsRepo, RunRow, RunsRepo

__all__ = [
    "RunItemRequest",
    "RunService",
    "create_run_item",
    "experiment_run_id",
    "parse_run_item_body",
]


# ---- REST ------------------------------------------------------------


class RunItemRequest(msgspec.Struct, kw_only=True):
    run_name: str
    dataset_item_id: str
    trace_id: str | None = None
    observation_id: str | None = None
    run_description: str | None = None
    metadata: Any = None
    dataset_version: datetime | None = None
    created_at: datetime | None = None
    id: str | None = None


def parse_run_item_body(body: dict[str, Any]) -> RunItemRequest:
    """A POST /dataset-run-items body (camelCase) → RunItemRequest, 400 naming a bad field."""

    def text(key: str, *, required: bool = False) -> str | None:
        value = body.get(key)
        if value is None or value == "":
            if required:
                raise bad_request(f"Invalid dataset run item: '{key}' is required")
            return None
        if not isinstance(value, str):
            raise bad_request(f"Invalid dataset run item: '{key}' must be a string")
        return value

    def moment(key: str) -> datetime | None:
        raw = text(key)
        return parse_datetime(key, raw) if raw is not None else None

    return RunItemRequest(
        run_name=text("runName", required=True) or "",
        dataset_item_id=text("datasetItemId", required=True) or "",
        trace_id=text("traceId"),
        observation_id=text("observationId"),
        run_description=text("runDescription"),
        metadata=body.get("metadata"),
        dataset_version=moment("datasetVersion"),
        created_at=moment("createdAt"),
        id=text("id"),
    )


async def _trace_of(ch: ClickHouse | None, project_id: str, observation_id: str) -> str | None:
    if ch is None:
        return None
    rows = await ch.rows(
        "SELECT trace_id FROM observations WHERE project_id = {p:String} AND id = {o:String} "
        "ORDER BY event_ts DESC LIMIT 1",
        {"p": project_id, "o": observation_id},
    )
    return rows[0]["trace_id"] if rows else None


async def create_run_item(
    pool: asyncpg.Pool, project_id: str, req: RunItemRequest, *, ch: ClickHouse | None = None
) -> dict[str, Any]:
    """Link a trace to a dataset item within the run `req.run_name` (created if needed) and
    return the DatasetRunItem JSON. 404 for an unknown dataset item, 400 without a trace id
    (given, or found through the observation id)."""
    trace_id = req.trace_id
    if trace_id is None and req.observation_id is not None:
        trace_id = await _trace_of(ch, project_id, req.observation_id)
    if trace_id is None:
        raise bad_request(
            "Invalid dataset run item: 'traceId' is required"
            + (f" (observation '{req.observation_id}' is not known yet)" if req.observation_id else "")
        )
    try:
        row = await link_run_item(
            pool,
            project_id,
            run_name=req.run_name,
            dataset_item_id=req.dataset_item_id,
            trace_id=trace_id,
            observation_id=req.observation_id,
            run_description=req.run_description,
            metadata=req.metadata,
            dataset_version=req.dataset_version,
            created_at=req.created_at,
            run_item_id=req.id,
        )
    except DatasetNotFound as exc:
        raise not_found(exc.message) from None
    return run_item_json(row)


# ---- reads and deletes -------------------------------------------------------------------


class RunService:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.datasets = DatasetsRepo(pool)
        self.runs = RunsRepo(pool)
        self.run_items = RunItemsRepo(pool)

    async def _dataset_id(self, project_id: str, dataset_name: str) -> str:
        dataset = await self.datasets.dataset_by_name(project_id, dataset_name)
        if dataset is None:
            raise not_found(f"Dataset not found: '{dataset_name}'")
        return dataset.id

    async def _run(self, project_id: str, dataset_name: str, run_name: str) -> RunRow:
        run = await self.runs.run_by_name(project_id, await self._dataset_id(project_id, dataset_name), run_name)
        if run is None:
            raise not_found(f"Dataset run not found: '{run_name}' in dataset '{dataset_name}'")
        return run

    async def list_runs(self, project_id: str, dataset_name: str, *, page: int, limit: int) -> dict[str, Any]:
        dataset_id = await self._dataset_id(project_id, dataset_name)
        rows, total = await self.runs.list_runs(project_id, dataset_id, offset=(page - 1) * limit, limit=limit)
        return {"data": [run_json(r) for r in rows], "meta": page_meta(page, limit, total)}

    async def get_run(self, project_id: str, dataset_name: str, run_name: str) -> dict[str, Any]:
        run = await self._run(project_id, dataset_name, run_name)
        items, _ = await self.run_items.run_items(project_id, run_id=run.id)
        return {**run_json(run), "datasetRunItems": [run_item_json(i) for i in items]}

    async def delete_run(self, project_id: str, dataset_name: str, run_name: str) -> dict[str, Any]:
        run = await self._run(project_id, dataset_name, run_name)
        await self.runs.delete_run(project_id, run.id)
        return {"message": "Dataset run successfully deleted"}

    async def list_run_items(
        self, project_id: str, *, dataset_id: str, run_name: str, page: int, limit: int
    ) -> dict[str, Any]:
        rows, total = await self.run_items.run_items(
            project_id, dataset_id=dataset_id, run_name=run_name, offset=(page - 1) * limit, limit=limit
        )
        return {"data": [run_item_json(i) for i in rows], "meta": page_meta(page, limit, total)}
