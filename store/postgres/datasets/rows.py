"""Row shapes and errors of the dataset repositories. Field names are the column names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from spyglass.store.postgres.faults import Conflict, NotFound

# The environment of a run item nobody named one for (the column's default).
DEFAULT_ENVIRONMENT = "default"


class DatasetConflict(Conflict):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DatasetNotFound(NotFound):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DatasetRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    name: str
    description: str | None = None
    metadata: Any = None
    input_schema: Any = None
    expected_output_schema: Any = None
    created_at: datetime
    updated_at: datetime


class ItemRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    dataset_id: str
    dataset_name: str
    status: str
    input: Any = None
    expected_output: Any = None
    metadata: Any = None
    source_trace_id: str | None = None
    source_observation_id: str | None = None
    created_at: datetime
    updated_at: datetime
    # When this state of the item became current (dataset_item_versions.valid_from).
    version: datetime | None = None


class RunRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    dataset_id: str | None = None
    dataset_name: str | None = None
    name: str
    description: str | None = None
    metadata: Any = None
    created_at: datetime
    updated_at: datetime


class RunItemRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    dataset_run_id: str
    dataset_run_name: str
    dataset_id: str | None = None
    dataset_item_id: str
    trace_id: str
    observation_id: str | None = None
    dataset_item_version: datetime | None = None
    environment: str = DEFAULT_ENVIRONMENT
    start_time: datetime | None = None
    end_time: datetime | None = None
    expected_output: Any = None
    item_metadata: Any = None
    created_at: datetime
    updated_at: datetime


class RunItemWrite(msgspec.Struct, frozen=True, kw_only=True):
    dataset_run_id: str
    dataset_id: str | None
    dataset_item_id: str
    trace_id: str
    observation_id: str | None = None
    dataset_item_version: datetime | None = None
    environment: str = DEFAULT_ENVIRONMENT
    start_time: datetime | None = None
    end_time: datetime | None = None
    expected_output: Any = None
    item_metadata: Any = None
    created_at: datetime | None = None
    id: str | None = None


class ExperimentRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    description: str | None = None
    metadata: Any = None
    dataset_id: str | None = None
    start_time: datetime
    end_time: datetime
    item_count: int


class ExperimentItemRow(msgspec.Struct, frozen=True, kw_only=True):
    item: RunItemRow
    run_description: str | None = None
    run_metadata: Any = None
    at: datetime
