"""Dataset rows → the JSON the Langfuse SDKs parse (every required key present, even when null)."""

from __future__ import annotations

from typing import Any

from spyglass.query.reads.values import iso_dt
from spyglass.store.postgres.datasets import DatasetRow, ItemRow, RunItemRow, RunRow


def dataset_json(d: DatasetRow) -> dict[str, Any]:
    return {
        "id": d.id,
        "name": d.name,
        "description": d.description,
        "metadata": d.metadata,
        "inputSchema": d.input_schema,
        "expectedOutputSchema": d.expected_output_schema,
        "projectId": d.project_id,
        "createdAt": iso_dt(d.created_at),
        "updatedAt": iso_dt(d.updated_at),
    }


def item_json(i: ItemRow) -> dict[str, Any]:
    return {
        "id": i.id,
        "status": i.status,
        "input": i.input,
        "expectedOutput": i.expected_output,
        "metadata": i.metadata,
        "sourceTraceId": i.source_trace_id,
        "sourceObservationId": i.source_observation_id,
        "datasetId": i.dataset_id,
        "datasetName": i.dataset_name,
        "createdAt": iso_dt(i.created_at),
        "updatedAt": iso_dt(i.updated_at),
        "version": iso_dt(i.version),
        # Media references are resolved by the media component; the key is required (py v5).
        "mediaReferences": [],
    }


def run_json(r: RunRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "description": r.description,
        "metadata": r.metadata,
        "datasetId": r.dataset_id,
        "datasetName": r.dataset_name,
        "createdAt": iso_dt(r.created_at),
        "updatedAt": iso_dt(r.updated_at),
    }


def run_item_json(ri: RunItemRow) -> dict[str, Any]:
    return {
        "id": ri.id,
        "datasetRunId": ri.dataset_run_id,
        "datasetRunName": ri.dataset_run_name,
        "datasetItemId": ri.dataset_item_id,
        "traceId": ri.trace_id,
        "observationId": ri.observation_id,
        "createdAt": iso_dt(ri.created_at),
        "updatedAt": iso_dt(ri.updated_at),
    }


def page_meta(page: int, limit: int, total: int) -> dict[str, int]:
    return {"page": page, "limit": limit, "totalItems": total, "totalPages": -(-total // limit) if limit else 0}
