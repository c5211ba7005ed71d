"""Unit prices of matched models, for the `inputPrice`/`outputPrice`/`totalPrice` fields.

An observation records the id of the model it was priced with (`internal_model_id`). Built-in
models come from the bundled catalog, a project's own models from Postgres (`ModelsRepo`); the
prices shown are the model's default tier, as Langfuse shows them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from decimal import Decimal

import asyncpg
import msgspec

from spyglass.collector.pricing.catalog import builtin_catalog
from spyglass.store.postgres.models_repo import ModelsRepo


class UnitPrices(msgspec.Struct, frozen=True):
    input: Decimal | None = None
    output: Decimal | None = None
    total: Decimal | None = None


_NONE = UnitPrices()


@functools.cache
def _builtin() -> dict[str, UnitPrices]:
    out: dict[str, UnitPrices] = {}
    for model in builtin_catalog():
        tier = model.default_tier
        if tier is None:
            continue
        out[model.id] = UnitPrices(
            input=tier.prices.get("input"), output=tier.prices.get("output"), total=tier.prices.get("total")
        )
    return out


async def unit_prices(pg: asyncpg.Pool, project_id: str, model_ids: Iterable[str | None]) -> dict[str, UnitPrices]:
    wanted = {m for m in model_ids if m}
    if not wanted:
        return {}
    builtin = _builtin()
    out = {m: builtin[m] for m in wanted if m in builtin}
    rest = sorted(wanted - out.keys())
    if rest:
        for model_id, prices in (await ModelsRepo(pg).default_tier_prices(project_id, rest)).items():
            out[model_id] = UnitPrices(
                input=prices.get("input"), output=prices.get("output"), total=prices.get("total")
            )
    return out


def for_model(prices: dict[str, UnitPrices], model_id: str | None) -> UnitPrices:
    return prices.get(model_id or "", _NONE)
