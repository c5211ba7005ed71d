"""Spans that ran a dataset item of an experiment (`langfuse.experiment.*`).

The py SDK creates no dataset run over REST: runs and run items are derived from these
attributes later, by the dataset-run feature; the mapper only lifts them out.
"""

from __future__ import annotations

from typing import Any

import msgspec

from spyglass.collector.otel.spans import RawSpan
from spyglass.collector.otel.values import iso_to_seconds, nanos_to_seconds, to_text


class ExperimentItem(msgspec.Struct, kw_only=True):
    """A span that ran a dataset/experiment item (`langfuse.experiment.*`), for dataset runs."""

    trace_id: str
    observation_id: str
    start_time: float
    environment: str
    experiment_id: str | None = None
    experiment_name: str | None = None
    experiment_description: str | None = None
    experiment_metadata: str | None = None
    dataset_id: str | None = None
    item_id: str | None = None
    item_version: float | None = None
    item_expected_output: str | None = None
    item_metadata: str | None = None
    item_root_observation_id: str | None = None
    # Every `langfuse.experiment.*` attribute as sent, for fields not listed above.
    attributes: dict[str, Any] = {}


def experiment_item(span: RawSpan, attrs: dict[str, Any], found: dict[str, Any], environment: str) -> ExperimentItem:
    version = attrs.get("langfuse.experiment.item.version")
    return ExperimentItem(
        trace_id=span.trace_id,
        observation_id=span.span_id,
        start_time=nanos_to_seconds(span.start_ns),
        environment=environment,
        experiment_id=to_text(attrs.get("langfuse.experiment.id")),
        experiment_name=to_text(attrs.get("langfuse.experiment.name")),
        experiment_description=to_text(attrs.get("langfuse.experiment.description")),
        experiment_metadata=to_text(attrs.get("langfuse.experiment.metadata")),
        dataset_id=to_text(attrs.get("langfuse.experiment.dataset.id")),
        item_id=to_text(attrs.get("langfuse.experiment.item.id")),
        item_version=iso_to_seconds(version) if type(version) is str else None,
        item_expected_output=to_text(attrs.get("langfuse.experiment.item.expected_output")),
        item_metadata=to_text(attrs.get("langfuse.experiment.item.metadata")),
        item_root_observation_id=to_text(attrs.get("langfuse.experiment.item.root_observation_id")),
        attributes=found,
    )
