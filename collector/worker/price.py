"""Usage and cost of one observation row, shared by the mapping processes and the worker.

OTel rows are priced in the mapping processes (next to decoding, off the serving process);
rows made by legacy /ingestion merges are priced by the worker itself. Both use this.
"""

from __future__ import annotations

from typing import Any

import msgspec

from spyglass.collector.pricing import ModelMatcher, compute_cost, usage_with_total
from spyglass.store.clickhouse.rows import ObservationRow


def needs_pricing(row: ObservationRow) -> bool:
    return bool(row.provided_model_name or row.usage_details or row.provided_cost_details)


def price_row(matcher: ModelMatcher, project_id: str, row: ObservationRow) -> ObservationRow:
    """The row with stored usage (plus total) and its cost. The project's models must be
    registered on `matcher` (see `ModelMatcher.has_project`) before calling."""
    if not needs_pricing(row):
        return row
    model = matcher.match(project_id, row.provided_model_name) if row.provided_model_name else None
    usage = row.usage_details
    if usage and "total" not in usage:  # OTel rows come with their total; legacy merges may not
        usage = usage_with_total(usage)
    # Parameters only matter to a conditional tier's checks: most models have none, so most
    # generations skip decoding them.
    parameters = _json_object(row.model_parameters) if model is not None and model.conditional_tiers else None
    result = compute_cost(usage, row.provided_cost_details or None, model, parameters, row.metadata)
    return msgspec.structs.replace(
        row,
        usage_details=usage,
        cost_details=result.cost_details,
        total_cost=result.total_cost,
        internal_model_id=result.internal_model_id or row.internal_model_id,
        usage_pricing_tier_id=result.tier_id,
        usage_pricing_tier_name=result.tier_name,
    )


def _json_object(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, dict) else None
