"""Usage normalisation, model matching and cost computation (pure, no I/O).

Typical per-generation flow in the worker::

    provided = provided_usage(body.get("usage"), body.get("usageDetails"), body.get("costDetails"))
    usage = usage_with_total(provided.usage_details)
    if not matcher.has_project(project_id):
        matcher.set_project_models(project_id, await models_repo.for_project(project_id))
    model = matcher.match(project_id, body.get("model"))
    cost = compute_cost(usage, provided.cost_details, model, model_parameters, metadata)

`matcher` is one long-lived `ModelMatcher` per worker; call `matcher.invalidate(project_id)`
when that project's models change. `provided.*` fill the `provided_*_details` columns, `usage`
fills `usage_details`, and `cost` the cost, model id and pricing tier columns.
"""

from spyglass.collector.pricing.catalog import builtin_catalog
from spyglass.collector.pricing.compiled import ModelPrice, PriceTier, compile_model
from spyglass.collector.pricing.cost import CostResult, compute_cost
from spyglass.collector.pricing.definitions import (
    AttributeCondition,
    DefinitionError,
    ModelDefinition,
    PricingTier,
    TierCondition,
    UsageCondition,
    model_definition_from_json,
    pricing_tier_from_json,
    tier_condition_from_json,
)
from spyglass.collector.pricing.matching import ModelMatcher, match_model
from spyglass.collector.pricing.tiers import select_tier
from spyglass.collector.pricing.usage import (
    ProvidedUsage,
    normalize_cost_details,
    normalize_legacy_usage,
    normalize_usage_details,
    provided_usage,
    usage_with_total,
)

__all__ = [
    "AttributeCondition",
    "CostResult",
    "DefinitionError",
    "ModelDefinition",
    "ModelMatcher",
    "ModelPrice",
    "PriceTier",
    "PricingTier",
    "ProvidedUsage",
    "TierCondition",
    "UsageCondition",
    "builtin_catalog",
    "compile_model",
    "compute_cost",
    "match_model",
    "model_definition_from_json",
    "normalize_cost_details",
    "normalize_legacy_usage",
    "normalize_usage_details",
    "pricing_tier_from_json",
    "provided_usage",
    "select_tier",
    "tier_condition_from_json",
    "usage_with_total",
]
