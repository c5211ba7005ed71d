"""Dataset and dataset-item use cases behind /v2/datasets and /dataset-items.

Checks run before anything is written (schema of the dataset, item input against it), and each
write is one statement, so a refused request leaves no trace.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from spyglass.collector.http import ApiError, bad_request, not_found
from spyglass.query.datasets.json_schema import JsonSchema, SchemaError
from spyglass.query.datasets.render import dataset_json, item_json, page_meta
from spyglass.store.postgres.datasets import DatasetConflict, DatasetRow, DatasetsRepo, ItemsRepo

MAX_NAME = 255
MAX_ITEM_ID = 255
_STATUSES = ("ACTIVE", "ARCHIVED")
# Body key → column, for the fields an item upsert may change.
_ITEM_BODY_FIELDS = {
    "input": "input",
    "expectedOutput": "expected_output",
    "metadata": "metadata",
    "sourceTraceId": "source_trace_id",
    "sourceObservationId": "source_observation_id",
}


def _optional_text(body: Mapping[str, Any], key: str, *, max_len: int | None = None) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"Invalid request body: '{key}' must be a string")
    if max_len is not None and len(value) > max_len:
        raise bad_request(f"Invalid request body: '{key}' must be at most {max_len} characters")
    return value


def _schema(body: Mapping[str, Any], key: str) -> Any:
    value = body.get(key)
    if value is None:
        return None
    try:
        JsonSchema(value)
    except SchemaError as exc:
        raise bad_request(f"Invalid {key}: {exc}") from None
    return value


def check_against_schema(schema: Any, value: Any, what: str, dataset: str) -> None:
    """400 listing every violation when `value` does not satisfy the dataset's JSON Schema."""
    if schema is None or value is None:
        return
    problems = JsonSchema(schema).errors(value, root=what)
    if problems:
        raise ApiError(
            400,
            f"Dataset item {what} does not match the JSON Schema of dataset '{dataset}': " + "; ".join(problems),
            error="SchemaValidationError",
        )


class DatasetService:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.datasets = DatasetsRepo(pool)
        self.items = ItemsRepo(pool)

    async def dataset_named(self, project_id: str, name: str) -> DatasetRow:
        dataset = await self.datasets.dataset_by_name(project_id, name)
        if dataset is None:
            raise not_found(f"Dataset not found: '{name}'")
        return dataset

    # ---- datasets -----------------------------------------------------------------------

    async def create_dataset(self, project_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise bad_request("Invalid dataset: 'name' must be a non-empty string")
        if len(name) > MAX_NAME:
            raise bad_request(f"Invalid dataset name: at most {MAX_NAME} characters (got {len(name)})")
        fields = {
            "description": _optional_text(body, "description"),
            "metadata": body.get("metadata"),
            "input_schema": _schema(body, "inputSchema"),
            "expected_output_schema": _schema(body, "expectedOutputSchema"),
        }
        try:
            return dataset_json(await self.datasets.create_dataset(project_id, name=name, **fields))
        except DatasetConflict as exc:
            existing = await self.datasets.dataset_by_name(project_id, name)
            # Re-sending the same create (a client retry after a lost response) is not a
            # conflict; a different definition under a taken name is.
            if existing is not None and all(getattr(existing, k) == v for k, v in fields.items()):
                return dataset_json(existing)
            raise ApiError(409, f"{exc.message}; dataset names are unique per project") from None

    async def get_dataset(self, project_id: str, name: str) -> dict[str, Any]:
        return dataset_json(await self.dataset_named(project_id, name))

    async def list_datasets(self, project_id: str, *, page: int, limit: int) -> dict[str, Any]:
        rows, total = await self.datasets.list_datasets(project_id, offset=(page - 1) * limit, limit=limit)
        return {"data": [dataset_json(d) for d in rows], "meta": page_meta(page, limit, total)}

    # ---- items --------------------------------------------------------------------------

    async def upsert_item(self, project_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        dataset_name = body.get("datasetName")
        if not isinstance(dataset_name, str) or not dataset_name:
            raise bad_request("Invalid dataset item: 'datasetName' must be a non-empty string")
        item_id = _optional_text(body, "id", max_len=MAX_ITEM_ID)
        if item_id is not None and not item_id.strip():
            raise bad_request("Invalid dataset item: 'id' must not be empty")
        status = body.get("status")
        if status is not None and status not in _STATUSES:
            raise bad_request(f"Invalid dataset item: 'status' must be ACTIVE or ARCHIVED, got {status!r}")
        for key in ("sourceTraceId", "sourceObservationId"):
            _optional_text(body, key)
        dataset = await self.dataset_named(project_id, dataset_name)
        check_against_schema(dataset.input_schema, body.get("input"), "input", dataset.name)
        check_against_schema(dataset.expected_output_schema, body.get("expectedOutput"), "expectedOutput", dataset.name)
        # Only keys the client sent change an existing item; an explicit null clears a field.
        fields = {column: body[key] for key, column in _ITEM_BODY_FIELDS.items() if key in body}
        if status is not None:
            fields["status"] = status
        try:
            item = await self.items.upsert_item(project_id, dataset, item_id or str(uuid.uuid4()), fields)
        except DatasetConflict as exc:
            raise ApiError(409, exc.message) from None
        return item_json(item)

    async def get_item(self, project_id: str, item_id: str) -> dict[str, Any]:
        item = await self.items.get_item(project_id, item_id)
        if item is None:
            raise not_found(f"Dataset item not found: '{item_id}'")
        return item_json(item)

    async def list_items(
        self,
        project_id: str,
        *,
        dataset_name: str | None,
        source_trace_id: str | None,
        source_observation_id: str | None,
        as_of: datetime | None,
        page: int,
        limit: int,
    ) -> dict[str, Any]:
        dataset_id = (await self.dataset_named(project_id, dataset_name)).id if dataset_name is not None else None
        rows, total = await self.items.list_items(
            project_id,
            dataset_id=dataset_id,
            source_trace_id=source_trace_id,
            source_observation_id=source_observation_id,
            as_of=as_of,
            offset=(page - 1) * limit,
            limit=limit,
        )
        return {"data": [item_json(i) for i in rows], "meta": page_meta(page, limit, total)}

    async def delete_item(self, project_id: str, item_id: str) -> dict[str, Any]:
        if not await self.items.delete_item(project_id, item_id):
            raise not_found(f"Dataset item not found: '{item_id}'")
        return {"message": "Dataset item successfully deleted"}
