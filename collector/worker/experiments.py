"""Experiment spans and `dataset-run-item-create` events → dataset runs and run items: the
ingestion worker's part of datasets (collector/worker/processor_factory.py hooks it into the
RowProcessor). Bad data is logged and skipped; only store failures raise.

    await record_experiment_items(pool, project_id, map_result.experiments)  # spans with langfuse.experiment.*
    await record_run_item_events(pool, project_id, dataset_run_item_create_events)

Decided here: which spans become runs and run items (and with what, when several spans of one
item disagree), which values PostgreSQL could not store (NUL), and the SDK's derived run id.
The statements themselves are the store's (spyglass.store.postgres.datasets). `link_run_item`
is shared with the REST call POST /dataset-run-items (spyglass.query.datasets.runs).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg
import msgspec

from spyglass.collector.json_depth import too_deep
from spyglass.store.postgres.datasets import (
    DEFAULT_ENVIRONMENT,
    DatasetNotFound,
    DatasetsRepo,
    ExperimentsRepo,
    ItemsRepo,
    RunItemRow,
    RunItemsRepo,
    RunItemWrite,
    RunsRepo,
)
from spyglass.store.postgres.text import nul_path

log = logging.getLogger("spyglass.datasets")


# ---- run items by run name (dataset-run-item-create events, POST /dataset-run-items) -------


def experiment_run_id(project_id: str, dataset_id: str, run_name: str) -> str:
    """The Python SDK's stable experiment id: 16 hex of sha256 over the compact JSON array
    ["langfuse-experiment-v1", project id, dataset id, run name]. Runs created by name get it,
    so the same run name reaches the same run whichever path (REST, spans) came first."""
    payload = json.dumps(
        ["langfuse-experiment-v1", project_id, dataset_id, run_name], separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


async def link_run_item(
    pool: asyncpg.Pool,
    project_id: str,
    *,
    run_name: str,
    dataset_item_id: str,
    trace_id: str,
    observation_id: str | None = None,
    run_description: str | None = None,
    metadata: Any = None,
    dataset_version: datetime | None = None,
    created_at: datetime | None = None,
    run_item_id: str | None = None,
) -> RunItemRow:
    """Link a trace to a dataset item within the item's dataset run `run_name` (created if
    missing). DatasetNotFound for an unknown dataset item."""
    item = await ItemsRepo(pool).get_item(project_id, dataset_item_id)
    if item is None:
        raise DatasetNotFound(f"Dataset item not found: '{dataset_item_id}'")
    run = await RunsRepo(pool).ensure_named_run(
        project_id,
        dataset_id=item.dataset_id,
        name=run_name,
        description=run_description,
        metadata=metadata,
        preferred_id=experiment_run_id(project_id, item.dataset_id, run_name),
    )
    return await RunItemsRepo(pool).upsert_run_item(
        project_id,
        RunItemWrite(
            id=run_item_id,
            dataset_run_id=run.id,
            dataset_id=item.dataset_id,
            dataset_item_id=item.id,
            trace_id=trace_id,
            observation_id=observation_id,
            dataset_item_version=dataset_version,
            created_at=created_at,
        ),
    )


def _json_attr(text: str | None) -> Any:
    """A JSON-encoded span attribute; text that is not JSON is kept as the string it is."""
    if text is None or too_deep(text):
        return text  # nested deeper than any JSON accepted: kept as text, like Langfuse's non-JSON
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text


def _at(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def record_run_item_events(pool: asyncpg.Pool, project_id: str, events: Sequence[Any]) -> None:
    """Store `dataset-run-item-create` events (envelopes with `.body`, or bare bodies). An event
    that can never be stored (unknown dataset item, bad datasetVersion) is logged and dropped."""
    for event in events:
        body = getattr(event, "body", event)
        fields = (body.run_name, body.dataset_item_id, body.trace_id, body.observation_id, body.run_description)
        if nul_path([fields, body.metadata]) is not None:
            # Refused at intake since; a raw payload replayed from before must not fail the batch.
            log.warning("dataset-run-item-create dropped (project %s): a field holds a NUL character", project_id)
            continue
        try:
            await link_run_item(
                pool,
                project_id,
                run_name=body.run_name,
                dataset_item_id=body.dataset_item_id,
                trace_id=body.trace_id,
                observation_id=body.observation_id,
                run_description=body.run_description,
                metadata=body.metadata,
                dataset_version=_parse_time(getattr(body, "dataset_version", None)),
                created_at=getattr(event, "timestamp", None),
                run_item_id=getattr(body, "id", None),
            )
        except (DatasetNotFound, ValueError) as exc:
            log.warning("dataset-run-item-create dropped (project %s): %s", project_id, exc)


# ---- experiment spans --------------------------------------------------------------------


class ExperimentSpan(Protocol):
    """What the OTel mapper reports per span with `langfuse.experiment.*` (otel.ExperimentItem)."""

    trace_id: str
    observation_id: str
    start_time: float
    environment: str
    experiment_id: str | None
    experiment_name: str | None
    experiment_description: str | None
    experiment_metadata: str | None
    dataset_id: str | None
    item_id: str | None
    item_version: float | None
    item_expected_output: str | None
    item_metadata: str | None
    item_root_observation_id: str | None


def _holds_nul(span: ExperimentSpan) -> bool:
    """Whether a field written to PostgreSQL holds a NUL, raw or escaped in JSON text: such a
    span cannot be placed (its run or item write would fail the whole batch)."""
    texts = (
        span.trace_id,
        span.observation_id,
        span.environment,
        span.experiment_id,
        span.experiment_name,
        span.experiment_description,
        span.dataset_id,
        span.item_id,
        span.item_root_observation_id,
    )
    if nul_path(list(texts)) is not None:
        return True
    return any(
        nul_path(_json_attr(text)) is not None
        for text in (span.experiment_metadata, span.item_expected_output, span.item_metadata)
    )


class _RunDraft:
    def __init__(self, run_id: str) -> None:
        self.id = run_id
        self.name: str | None = None
        self.description: str | None = None
        self.metadata: Any = None
        self.dataset_id: str | None = None
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, span: ExperimentSpan) -> None:
        self.name = self.name or span.experiment_name
        self.description = self.description or span.experiment_description
        if self.metadata is None:
            self.metadata = _json_attr(span.experiment_metadata)
        self.dataset_id = self.dataset_id or span.dataset_id
        assert span.item_id is not None
        key = (span.item_id, span.trace_id)
        start = _at(span.start_time)
        end = _at(getattr(span, "end_time", None)) or start
        cur = self.items.get(key)
        if cur is None:
            self.items[key] = cur = {
                "observation_id": span.item_root_observation_id or span.observation_id,
                "start_time": start,
                "end_time": end,
                "environment": span.environment or DEFAULT_ENVIRONMENT,
                "expected_output": _json_attr(span.item_expected_output),
                "item_metadata": _json_attr(span.item_metadata),
                "dataset_item_version": _at(span.item_version),
            }
            return
        # Every span of the item carries the root observation id; a span without it (a plain
        # child) must not replace one that has it.
        if span.item_root_observation_id:
            cur["observation_id"] = span.item_root_observation_id
        cur["start_time"] = min(filter(None, (cur["start_time"], start)), default=None)
        cur["end_time"] = max(filter(None, (cur["end_time"], end)), default=None)
        for field, value in (
            ("expected_output", _json_attr(span.item_expected_output)),
            ("item_metadata", _json_attr(span.item_metadata)),
            ("dataset_item_version", _at(span.item_version)),
        ):
            if cur[field] is None:
                cur[field] = value
        if cur["environment"] == DEFAULT_ENVIRONMENT and span.environment:
            cur["environment"] = span.environment


async def record_experiment_items(pool: asyncpg.Pool, project_id: str, items: Iterable[ExperimentSpan]) -> None:
    """Create/complete the runs (id = `langfuse.experiment.id`) and run items of experiment
    spans. Idempotent: replaying the same spans changes nothing. Spans without an experiment id
    or item id cannot be placed and are skipped; a dataset id unknown to the project leaves the
    run without a dataset rather than failing the batch."""
    runs: dict[str, _RunDraft] = {}
    for span in items:
        if not span.experiment_id or not span.item_id:
            continue
        if _holds_nul(span):
            log.warning(
                "experiment span %s dropped (project %s): a field holds a NUL character",
                span.observation_id,
                project_id,
            )
            continue
        runs.setdefault(span.experiment_id, _RunDraft(span.experiment_id)).add(span)
    if not runs:
        return
    wanted = {r.dataset_id for r in runs.values() if r.dataset_id}
    known = await DatasetsRepo(pool).existing_dataset_ids(project_id, sorted(wanted)) if wanted else set()
    experiments = ExperimentsRepo(pool)
    for run in runs.values():
        dataset_id = run.dataset_id if run.dataset_id in known else None
        if run.dataset_id and dataset_id is None:
            log.info("experiment %s names dataset %s, unknown in project %s", run.id, run.dataset_id, project_id)
        await experiments.record_experiment(
            project_id,
            run_id=run.id,
            name=run.name or run.id,
            description=run.description,
            metadata=run.metadata,
            dataset_id=dataset_id,
            items=[
                RunItemWrite(
                    dataset_run_id=run.id,
                    dataset_id=dataset_id,
                    dataset_item_id=item_id,
                    trace_id=trace_id,
                    **fields,
                )
                for (item_id, trace_id), fields in run.items.items()
            ],
        )
