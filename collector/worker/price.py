"""Usage and cost of one observation row, shared by the mapping processes and the worker.

OTel rows are priced in the mapping processes (next to decoding, off the serving process);
rows made by legacy /ingestion merges are priced by the worker itself. Both use this.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from spyglass.collector.pricing import ModelMatcher, ModelPrice, compute_cost, usage_with_total
from spyglass.collector.pricing.tokens import InferredUsage, infer_usage, tokenizer_for
from spyglass.store.clickhouse.rows import ObservationRow

# Metadata key saying the row's usage was counted from its text, not reported by the client.
INFERRED_USAGE_KEY: Final = "spyglass.usage"


def needs_pricing(row: ObservationRow) -> bool:
    return bool(row.provided_model_name or row.usage_details or row.provided_cost_details)


def price_row(matcher: ModelMatcher, project_id: str, row: ObservationRow) -> ObservationRow:
    """The row with stored usage (plus total) and its cost. The project's models must be
    registered on `matcher` (see `ModelMatcher.has_project`) before calling.

    A row that reports no usage gets it counted from its input and output text when its model
    has a tokenizer (`pricing/tokens.py`), marked under `INFERRED_USAGE_KEY` in its metadata."""
    if not needs_pricing(row):
        return row
    model = matcher.match(project_id, row.provided_model_name) if row.provided_model_name else None
    usage = row.usage_details
    metadata = row.metadata
    # A legacy merge carries the usage an earlier write inferred: count again, from the merged
    # text (and model), whenever the client still has not reported any.
    inferred_before = INFERRED_USAGE_KEY in metadata
    inferred = None
    if not row.provided_usage_details and (not usage or inferred_before):
        inferred = _inferred(model, row) if model is not None else None
        if inferred is not None:
            usage = inferred.usage
        elif inferred_before:
            usage = {}  # the merged row's model has no tokenizer: the old count no longer holds
    if inferred is not None:
        metadata = {**metadata, INFERRED_USAGE_KEY: inferred.note()}
    elif inferred_before:  # no longer inferred (or the client reported usage since)
        metadata = {key: value for key, value in metadata.items() if key != INFERRED_USAGE_KEY}
    if usage and "total" not in usage:  # OTel rows come with their total; legacy merges may not
        usage = usage_with_total(usage)
    # Parameters only matter to a conditional tier's checks: most models have none, so most
    # generations skip decoding them.
    parameters = _json_object(row.model_parameters) if model is not None and model.conditional_tiers else None
    result = compute_cost(usage, row.provided_cost_details or None, model, parameters, metadata)
    return msgspec.structs.replace(
        row,
        metadata=metadata,
        usage_details=usage,
        cost_details=result.cost_details,
        total_cost=result.total_cost,
        internal_model_id=result.internal_model_id or row.internal_model_id,
        usage_pricing_tier_id=result.tier_id,
        usage_pricing_tier_name=result.tier_name,
    )


def _inferred(model: ModelPrice, row: ObservationRow) -> InferredUsage | None:
    # Upstream leaves failed generations alone: their output is an error, not the model's.
    if row.level == "ERROR" or (row.input is None and row.output is None):
        return None
    tokenizer = tokenizer_for(model.tokenizer_id, model.tokenizer_config)
    return infer_usage(tokenizer, row.input, row.output) if tokenizer is not None else None


def _json_object(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, dict) else None
