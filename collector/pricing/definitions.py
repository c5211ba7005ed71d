"""Model price definitions as they are stored: the input to matching and costing.

A later Postgres repository produces `ModelDefinition` values (one per `models` row, with its
`pricing_tiers` and `prices`); the built-in catalog produces them from Langfuse's JSON file.
Both go through `compile_model` before use.

The `*_from_json` readers accept Langfuse's camelCase shapes: the default-model-prices file,
the public models API body, and the `pricing_tiers.conditions` jsonb column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import msgspec

from spyglass.collector.pricing._coerce import to_amount

UsageOperator = Literal["gt", "gte", "lt", "lte", "eq", "neq"]
AttributeSource = Literal["model_parameters", "metadata"]

USAGE_OPERATORS: frozenset[str] = frozenset(("gt", "gte", "lt", "lte", "eq", "neq"))
ATTRIBUTE_SOURCES: frozenset[str] = frozenset(("model_parameters", "metadata"))


class DefinitionError(ValueError):
    """A model or tier definition that cannot be used (bad shape, unknown operator...)."""


class UsageCondition(msgspec.Struct, frozen=True, kw_only=True, tag="usage", tag_field="kind"):
    """Holds when the sum of usage entries whose key matches `usage_detail_pattern` compares
    true against `value` (e.g. input-ish keys > 200000 for a large-context tier)."""

    usage_detail_pattern: str
    operator: UsageOperator
    value: float
    case_sensitive: bool = False


class AttributeCondition(msgspec.Struct, frozen=True, kw_only=True, tag="attribute", tag_field="kind"):
    """Holds when the observation's model parameter or metadata top-level `key`, stringified,
    is one of `values` (e.g. service_tier in {priority, fast})."""

    source: AttributeSource
    key: str
    values: tuple[str, ...]
    operator: Literal["in"] = "in"


TierCondition = UsageCondition | AttributeCondition


class PricingTier(msgspec.Struct, frozen=True, kw_only=True):
    """Prices per usage type, applied when all `conditions` hold (the default tier has none)."""

    id: str
    name: str
    is_default: bool
    priority: int
    prices: dict[str, Decimal]
    conditions: tuple[TierCondition, ...] = ()


class ModelDefinition(msgspec.Struct, frozen=True, kw_only=True):
    """One model row: how to recognise the model name and what its usage costs.

    `project_id` is None for built-in (Langfuse-managed) models. The legacy `input_price`,
    `output_price` and `total_price` columns predate tiers; they are used as the default tier
    only when `pricing_tiers` has no default tier.
    """

    id: str
    model_name: str
    match_pattern: str
    project_id: str | None = None
    start_date: datetime | None = None
    unit: str | None = None
    tokenizer_id: str | None = None
    tokenizer_config: dict[str, Any] | None = None
    pricing_tiers: tuple[PricingTier, ...] = ()
    input_price: Decimal | None = None
    output_price: Decimal | None = None
    total_price: Decimal | None = None


def tier_condition_from_json(raw: Mapping[str, Any]) -> TierCondition:
    """Read one condition in Langfuse's jsonb shape (usage or attribute, told apart by `source`)."""
    if "source" in raw:
        source = raw.get("source")
        if source not in ATTRIBUTE_SOURCES:
            raise DefinitionError(f"unknown attribute condition source {source!r}")
        operator = raw.get("operator", "in")
        if operator != "in":
            raise DefinitionError(f"unsupported attribute condition operator {operator!r}")
        key = raw.get("key")
        values = raw.get("values")
        if not isinstance(key, str) or not isinstance(values, list):
            raise DefinitionError("attribute condition needs a string key and a list of values")
        return AttributeCondition(source=source, key=key, values=tuple(str(v) for v in values))
    pattern = raw.get("usageDetailPattern")
    operator = raw.get("operator")
    value = raw.get("value")
    if not isinstance(pattern, str):
        raise DefinitionError("usage condition needs a usageDetailPattern string")
    if operator not in USAGE_OPERATORS:
        raise DefinitionError(f"unknown usage condition operator {operator!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DefinitionError("usage condition needs a numeric value")
    return UsageCondition(
        usage_detail_pattern=pattern,
        operator=operator,
        value=float(value),
        case_sensitive=bool(raw.get("caseSensitive", False)),
    )


def prices_from_json(raw: Mapping[str, Any]) -> dict[str, Decimal]:
    """Prices per usage type; the API shape `{type: {price: x}}` is accepted as well as `{type: x}`."""
    prices: dict[str, Decimal] = {}
    for usage_type, entry in raw.items():
        value = entry.get("price") if isinstance(entry, Mapping) else entry
        amount = to_amount(value)
        if amount is None:
            raise DefinitionError(f"price for {usage_type!r} is not a non-negative number")
        prices[usage_type] = amount
    return prices


def _required(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise DefinitionError(f"{key} must be a non-empty string")
    return value


def pricing_tier_from_json(raw: Mapping[str, Any]) -> PricingTier:
    conditions = raw.get("conditions") or []
    if not isinstance(conditions, list):
        raise DefinitionError("tier conditions must be a list")
    return PricingTier(
        id=_required(raw, "id"),
        name=_required(raw, "name"),
        is_default=bool(raw.get("isDefault", False)),
        priority=int(raw.get("priority", 0)),
        prices=prices_from_json(raw.get("prices") or {}),
        conditions=tuple(tier_condition_from_json(c) for c in conditions),
    )


def model_definition_from_json(raw: Mapping[str, Any], *, project_id: str | None = None) -> ModelDefinition:
    """Read a model in Langfuse's camelCase shape (default-model-prices.json or the models API)."""
    tiers: Sequence[Mapping[str, Any]] = raw.get("pricingTiers") or []
    return ModelDefinition(
        id=_required(raw, "id"),
        model_name=_required(raw, "modelName"),
        match_pattern=_required(raw, "matchPattern"),
        project_id=project_id,
        start_date=_start_date(raw.get("startDate")),
        unit=raw.get("unit"),
        tokenizer_id=raw.get("tokenizerId"),
        tokenizer_config=raw.get("tokenizerConfig"),
        pricing_tiers=tuple(pricing_tier_from_json(t) for t in tiers),
        input_price=to_amount(raw.get("inputPrice")),
        output_price=to_amount(raw.get("outputPrice")),
        total_price=to_amount(raw.get("totalPrice")),
    )


def _start_date(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise DefinitionError(f"startDate {value!r} is not an ISO 8601 date-time")
