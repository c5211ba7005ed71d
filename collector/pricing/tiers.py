"""Choosing which of a model's pricing tiers applies to one generation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spyglass.collector.pricing.compiled import ModelPrice, PriceTier


def select_tier(
    model: ModelPrice,
    usage_details: Mapping[str, int],
    model_parameters: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> PriceTier | None:
    """The first non-default tier (priority ascending) whose conditions all hold, else the
    default tier; None only for a model defined without any default prices."""
    for tier in model.conditional_tiers:
        if tier.applies(usage_details, model_parameters, metadata):
            return tier
    return model.default_tier
