"""Model definitions turned into something cheap to evaluate per generation.

Compiling happens once per definition (catalog load, project registration): regexes are
compiled, tiers sorted by priority, and conditions turned into small predicate objects, so the
hot path never parses or sorts anything.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from spyglass.collector.pricing.checks import TierCheck, UsageCheck, compile_condition
from spyglass.collector.pricing.definitions import ModelDefinition, PricingTier
from spyglass.collector.pricing.money import to_pico
from spyglass.collector.pricing.patterns import Pattern, PatternError, compile_pattern

log = logging.getLogger(__name__)


class PriceTier(msgspec.Struct, frozen=True, kw_only=True):
    """A tier ready for use: prices keyed by usage type plus compiled condition checks."""

    id: str
    name: str
    priority: int
    is_default: bool
    prices: dict[str, Decimal]
    checks: tuple[TierCheck, ...] = ()
    # The same prices in picoUSD when all of them fit the 12-decimal grid (see money.py).
    pico_prices: dict[str, int] | None = None

    def applies(
        self,
        usage: Mapping[str, int],
        model_parameters: Mapping[str, Any] | None,
        metadata: Mapping[str, Any] | None,
    ) -> bool:
        # A tier without conditions never matches by condition; only the default is unconditional.
        checks = self.checks
        if not checks:
            return False
        for check in checks:
            if not check(usage, model_parameters, metadata):
                return False
        return True


class ModelPrice(msgspec.Struct, frozen=True, kw_only=True):
    """A matchable, priceable model: the compiled form of a `ModelDefinition`."""

    id: str
    project_id: str | None
    model_name: str
    match_pattern: str
    start_date: datetime | None
    unit: str | None
    tokenizer_id: str | None
    tokenizer_config: dict[str, Any] | None
    regex: Pattern
    default_tier: PriceTier | None
    # Non-default tiers in evaluation order: priority ascending, then definition order.
    conditional_tiers: tuple[PriceTier, ...]

    def matches(self, model_name: str) -> bool:
        # Postgres `~` is an unanchored search; the patterns carry their own ^...$ anchors.
        return self.regex.search(model_name) is not None


def _pico_prices(prices: Mapping[str, Decimal]) -> dict[str, int] | None:
    pico: dict[str, int] = {}
    for usage_type, price in prices.items():
        amount = to_pico(price)
        if amount is None:
            return None
        pico[usage_type] = amount
    return pico


def _price_tier(tier: PricingTier) -> PriceTier:
    checks = [compile_condition(c) for c in tier.conditions]
    # All checks must hold, so evaluate the cheap attribute lookups before the usage scans.
    checks.sort(key=lambda check: isinstance(check, UsageCheck))
    return PriceTier(
        id=tier.id,
        name=tier.name,
        priority=tier.priority,
        is_default=tier.is_default,
        prices=dict(tier.prices),
        checks=tuple(checks),
        pico_prices=_pico_prices(tier.prices),
    )


def _legacy_default_tier(definition: ModelDefinition) -> PriceTier | None:
    legacy = {
        "input": definition.input_price,
        "output": definition.output_price,
        "total": definition.total_price,
    }
    prices = {usage_type: price for usage_type, price in legacy.items() if price is not None}
    if not prices:
        return None
    # Langfuse's migration to tiers named the converted tier "Standard" with this id scheme.
    return PriceTier(
        id=f"{definition.id}_tier_default",
        name="Standard",
        priority=0,
        is_default=True,
        prices=prices,
        pico_prices=_pico_prices(prices),
    )


def compile_model(definition: ModelDefinition) -> ModelPrice:
    """Compile a definition; raises `PatternError` when the match pattern is not valid RE2."""
    regex = compile_pattern(definition.match_pattern)
    default_tier: PriceTier | None = None
    conditional: list[PriceTier] = []
    for tier in definition.pricing_tiers:
        if tier.is_default:
            # Exactly one default is the invariant; if a definition breaks it, the first wins.
            if default_tier is None:
                default_tier = _price_tier(tier)
        else:
            conditional.append(_price_tier(tier))
    if default_tier is None:
        default_tier = _legacy_default_tier(definition)
    conditional.sort(key=lambda t: t.priority)  # stable: equal priorities keep definition order
    return ModelPrice(
        id=definition.id,
        project_id=definition.project_id,
        model_name=definition.model_name,
        match_pattern=definition.match_pattern,
        start_date=definition.start_date,
        unit=definition.unit,
        tokenizer_id=definition.tokenizer_id,
        tokenizer_config=definition.tokenizer_config,
        regex=regex,
        default_tier=default_tier,
        conditional_tiers=tuple(conditional),
    )


def compile_models(definitions: Iterable[ModelDefinition | ModelPrice]) -> tuple[ModelPrice, ...]:
    """Compile many definitions, skipping (and logging) those whose pattern does not compile,
    in match order: newest `start_date` first, undated last, otherwise input order."""
    compiled: list[ModelPrice] = []
    for definition in definitions:
        if isinstance(definition, ModelPrice):
            compiled.append(definition)
            continue
        try:
            compiled.append(compile_model(definition))
        except PatternError as exc:
            # Postgres ARE syntax (\m, backreferences...) is not all valid in RE2; such a model
            # cannot match here, which is better than failing every generation of the project.
            log.warning("model %s: match pattern does not compile: %s", definition.id, exc)
    compiled.sort(key=_date_order_key, reverse=True)
    return tuple(compiled)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _date_order_key(model: ModelPrice) -> tuple[bool, datetime]:
    start = model.start_date
    if start is None:
        return (False, _EPOCH)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return (True, start)
