"""Cost of one generation: the client's own figures when given, else usage × tier prices."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar, cast

import msgspec

from spyglass.collector.pricing._coerce import to_amount
from spyglass.collector.pricing.compiled import ModelPrice
from spyglass.collector.pricing.money import stored_cost, stored_pico
from spyglass.collector.pricing.tiers import select_tier

Amount = TypeVar("Amount", int, Decimal)


class CostResult(msgspec.Struct, frozen=True, kw_only=True):
    """The cost columns of an observation row (`cost_details`, `total_cost`,
    `internal_model_id`, `usage_pricing_tier_id`, `usage_pricing_tier_name`)."""

    cost_details: dict[str, float]
    total_cost: float | None
    internal_model_id: str | None = None
    tier_id: str | None = None
    tier_name: str | None = None


def compute_cost(
    usage_details: Mapping[str, int],
    provided_cost: Mapping[str, float | Decimal | None] | None,
    model: ModelPrice | None,
    model_parameters: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> CostResult:
    """Cost a generation.

    `usage_details` is the stored usage (with its total, see `usage_with_total`). Any provided
    cost makes provided costs authoritative: they are kept as given and total = the provided
    `total`, else the sum of what was provided (input + output in the common case). Otherwise
    each usage key that the selected tier prices costs price × units, and total = the priced
    `total` entry if there is one, else the sum of the entries.

    The tier is chosen whenever a model matched and usage is non-empty, even when provided
    costs win, so the row still says which tier the usage fell into.
    """
    tier = select_tier(model, usage_details, model_parameters, metadata) if model and usage_details else None
    model_id = model.id if model is not None else None
    tier_id = tier.id if tier is not None else None
    tier_name = tier.name if tier is not None else None

    details: dict[str, float] = {}
    total_cost: float | None = None
    provided = _provided_amounts(provided_cost)
    if provided:
        details, total_cost = _costs(provided, stored_cost)
    elif tier is not None:
        pico = tier.pico_prices
        if pico is not None:
            pico_amounts = {key: pico[key] * units for key, units in usage_details.items() if key in pico}
            details, total_cost = _costs(pico_amounts, stored_pico)
        else:
            prices = tier.prices
            amounts = {key: prices[key] * units for key, units in usage_details.items() if key in prices}
            details, total_cost = _costs(amounts, stored_cost)
    return CostResult(
        cost_details=details,
        total_cost=total_cost,
        internal_model_id=model_id,
        tier_id=tier_id,
        tier_name=tier_name,
    )


def _costs(amounts: dict[str, Amount], to_stored: Callable[[Amount], float]) -> tuple[dict[str, float], float | None]:
    """Stored cost per key plus the total (the `total` entry if present, else the exact sum),
    which is also written under `total` when that key is missing."""
    if not amounts:
        return {}, None
    total = amounts.get("total")
    if total is None:
        # Never the empty sum's int 0: `amounts` is non-empty here.
        total = cast("Amount", sum(amounts.values()))
    details = {key: to_stored(amount) for key, amount in amounts.items()}
    total_cost = to_stored(total)
    details.setdefault("total", total_cost)
    return details, total_cost


def _provided_amounts(provided_cost: Mapping[str, float | Decimal | None] | None) -> dict[str, Decimal]:
    if not provided_cost:
        return {}
    amounts: dict[str, Decimal] = {}
    for key, value in provided_cost.items():
        amount = to_amount(value)
        if amount is not None:
            amounts[key] = amount
    return amounts
