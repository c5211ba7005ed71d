"""Model price definitions: a project's own models in Postgres, the built-in catalog beside them.

The built-in (Langfuse-managed) models come from the pricing module's bundled catalog, not from
Postgres: that file is what cost inference uses, so listing it here keeps the API and the
worker in agreement. Project models live in `models`/`pricing_tiers`/`prices`.

Cost inference for new data: the ingestion worker keeps one `ModelMatcher` and registers each
project's models with `await ModelsRepo(pool).for_project(project_id)`. When a project's models
change, the matcher must forget them: every write sends a `spyglass_models_changed`
notification (Postgres NOTIFY, in the writing transaction, so it arrives on commit) that
workers in this and every other process receive through `spyglass.store.postgres.notify`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Any

import asyncpg
import msgspec

from spyglass.collector.pricing import ModelDefinition, PricingTier, tier_condition_from_json
from spyglass.collector.pricing.catalog import CATALOG_FILE
from spyglass.store.postgres.faults import db_errors
from spyglass.store.postgres.ids import new_id
from spyglass.store.postgres.notify import notify
from spyglass.store.postgres.pool import Conn

log = logging.getLogger(__name__)

MODELS_CHANGED_CHANNEL = "spyglass_models_changed"


class TierRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    is_default: bool
    priority: int
    # Langfuse's jsonb shape: [{usageDetailPattern, operator, value, caseSensitive}] or
    # [{source, key, operator: "in", values}].
    conditions: list[dict[str, Any]]
    prices: dict[str, Decimal]


class ModelRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    project_id: str | None
    model_name: str
    match_pattern: str
    start_date: datetime | None = None
    unit: str | None = None
    input_price: Decimal | None = None
    output_price: Decimal | None = None
    total_price: Decimal | None = None
    tokenizer_id: str | None = None
    tokenizer_config: Any = None
    created_at: datetime
    pricing_tiers: tuple[TierRecord, ...] = ()

    @property
    def is_builtin(self) -> bool:
        return self.project_id is None


class NewTier(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    is_default: bool
    priority: int
    conditions: list[dict[str, Any]]
    prices: dict[str, Decimal]


class NewModel(msgspec.Struct, frozen=True, kw_only=True):
    """A project model as the API accepts it (already validated by the caller)."""

    model_name: str
    match_pattern: str
    start_date: datetime | None = None
    unit: str | None = None
    input_price: Decimal | None = None
    output_price: Decimal | None = None
    total_price: Decimal | None = None
    tokenizer_id: str | None = None
    tokenizer_config: Any = None
    # Empty: a default tier "Standard" is made from the flat prices, as Langfuse does.
    pricing_tiers: tuple[NewTier, ...] = ()


# ---- change notification --------------------------------------------------------------------


# ---- built-in catalog -----------------------------------------------------------------------


def _parse_time(value: object) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime(1970, 1, 1, tzinfo=UTC)


@functools.cache
def builtin_models() -> tuple[ModelRecord, ...]:
    """The bundled catalog as records, in file order."""
    raw = resources.files("spyglass.collector.pricing").joinpath(CATALOG_FILE).read_bytes()
    records = []
    for entry in msgspec.json.decode(raw):
        tiers = tuple(
            TierRecord(
                id=t["id"],
                name=t["name"],
                is_default=bool(t.get("isDefault", False)),
                priority=int(t.get("priority", 0)),
                conditions=list(t.get("conditions") or []),
                prices={k: Decimal(repr(v)) if isinstance(v, float) else Decimal(v) for k, v in t["prices"].items()},
            )
            for t in entry.get("pricingTiers") or []
        )
        records.append(
            ModelRecord(
                id=entry["id"],
                project_id=None,
                model_name=entry["modelName"],
                match_pattern=entry["matchPattern"],
                tokenizer_id=entry.get("tokenizerId"),
                tokenizer_config=entry.get("tokenizerConfig"),
                created_at=_parse_time(entry.get("createdAt")),
                pricing_tiers=tiers,
            )
        )
    return tuple(records)


@functools.cache
def _builtin_index() -> dict[str, ModelRecord]:
    return {m.id: m for m in builtin_models()}


def builtin_model(model_id: str) -> ModelRecord | None:
    return _builtin_index().get(model_id)


# ---- conversion for the pricing module ---------------------------------------------------------


def to_definition(record: ModelRecord) -> ModelDefinition:
    """The pricing module's input for one model (raises DefinitionError on a malformed tier)."""
    return ModelDefinition(
        id=record.id,
        model_name=record.model_name,
        match_pattern=record.match_pattern,
        project_id=record.project_id,
        start_date=record.start_date,
        unit=record.unit,
        tokenizer_id=record.tokenizer_id,
        tokenizer_config=record.tokenizer_config if isinstance(record.tokenizer_config, dict) else None,
        pricing_tiers=tuple(
            PricingTier(
                id=t.id,
                name=t.name,
                is_default=t.is_default,
                priority=t.priority,
                prices=dict(t.prices),
                conditions=tuple(tier_condition_from_json(c) for c in t.conditions),
            )
            for t in record.pricing_tiers
        ),
        input_price=record.input_price,
        output_price=record.output_price,
        total_price=record.total_price,
    )


# ---- repository -----------------------------------------------------------------------------

_MODEL_COLS = (
    "id, project_id, model_name, match_pattern, start_date, unit, input_price, output_price, "
    "total_price, tokenizer_id, tokenizer_config, created_at"
)


class ModelsRepo:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def list_project(self, project_id: str) -> list[ModelRecord]:
        """The project's own models with their tiers, newest start date first."""
        with db_errors():
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(
                    f"SELECT {_MODEL_COLS} FROM models WHERE project_id = $1 "
                    "ORDER BY start_date DESC NULLS LAST, created_at, id",
                    project_id,
                )
                return await _with_tiers(conn, rows)

    async def get_project(self, project_id: str, model_id: str) -> ModelRecord | None:
        with db_errors():
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(
                    f"SELECT {_MODEL_COLS} FROM models WHERE id = $1 AND project_id = $2", model_id, project_id
                )
                found = await _with_tiers(conn, rows)
        return found[0] if found else None

    async def for_project(self, project_id: str) -> list[ModelDefinition]:
        """The project's own models as pricing definitions (what `ModelMatcher.set_project_models`
        takes). A model whose tiers cannot be read is skipped and logged, not fatal."""
        definitions = []
        for record in await self.list_project(project_id):
            try:
                definitions.append(to_definition(record))
            except ValueError as exc:
                log.warning("model %s of project %s is unusable: %s", record.id, project_id, exc)
        return definitions

    async def default_tier_prices(self, project_id: str, model_ids: list[str]) -> dict[str, dict[str, Decimal]]:
        """Input/output/total unit prices of each model's default tier (the project's own
        models and stored shared ones), by model id."""
        with db_errors():
            rows = await self._pool.fetch(
                "SELECT p.model_id, p.usage_type, p.price FROM prices p "
                "JOIN pricing_tiers t ON t.id = p.pricing_tier_id AND t.is_default "
                "JOIN models m ON m.id = p.model_id "
                "WHERE p.model_id = ANY($1::text[]) AND (m.project_id IS NULL OR m.project_id = $2) "
                "AND p.usage_type IN ('input', 'output', 'total')",
                model_ids,
                project_id,
            )
        found: dict[str, dict[str, Decimal]] = {}
        for r in rows:
            found.setdefault(r["model_id"], {})[r["usage_type"]] = r["price"]
        return found

    async def name_taken(self, project_id: str, model_name: str, *, except_id: str | None = None) -> bool:
        with db_errors():
            found = await self._pool.fetchval(
                "SELECT 1 FROM models WHERE project_id = $1 AND model_name = $2 AND id IS DISTINCT FROM $3",
                project_id,
                model_name,
                except_id,
            )
        return found is not None

    async def owner_of(self, model_id: str) -> tuple[bool, str | None]:
        """(exists, project_id) of a stored model id, whichever project it belongs to."""
        with db_errors():
            row = await self._pool.fetchrow("SELECT project_id FROM models WHERE id = $1", model_id)
        return (row is not None, row["project_id"] if row else None)

    async def create(self, project_id: str, model: NewModel, *, model_id: str | None = None) -> ModelRecord:
        model_id = model_id or new_id()
        with db_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                await _insert_model(conn, project_id, model_id, model)
                await _insert_pricing(conn, project_id, model_id, model)
                await notify(conn, MODELS_CHANGED_CHANNEL, project_id)
                rows = await conn.fetch(f"SELECT {_MODEL_COLS} FROM models WHERE id = $1", model_id)
                record = (await _with_tiers(conn, rows))[0]
        return record

    async def replace(self, project_id: str, model_id: str, model: NewModel) -> ModelRecord:
        """Create the model under `model_id`, or overwrite the project's model of that id (its
        tiers and prices are replaced). The caller checks the id is not another project's."""
        with db_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                # Keep the creation time of a model being overwritten, as an update would.
                created_at = await conn.fetchval(
                    "DELETE FROM models WHERE id = $1 AND project_id = $2 RETURNING created_at", model_id, project_id
                )
                await _insert_model(conn, project_id, model_id, model, created_at)
                await _insert_pricing(conn, project_id, model_id, model)
                await notify(conn, MODELS_CHANGED_CHANNEL, project_id)
                rows = await conn.fetch(f"SELECT {_MODEL_COLS} FROM models WHERE id = $1", model_id)
                record = (await _with_tiers(conn, rows))[0]
        return record

    async def delete(self, project_id: str, model_id: str) -> bool:
        """Delete one of the project's models (tiers and prices cascade); False if none."""
        with db_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                deleted = await conn.fetchval(
                    "DELETE FROM models WHERE id = $1 AND project_id = $2 RETURNING id", model_id, project_id
                )
                if deleted is not None:
                    await notify(conn, MODELS_CHANGED_CHANNEL, project_id)
        if deleted is None:
            return False
        return True


async def _insert_model(
    conn: Conn, project_id: str, model_id: str, model: NewModel, created_at: datetime | None = None
) -> None:
    await conn.execute(
        "INSERT INTO models (id, project_id, model_name, match_pattern, start_date, unit, input_price, "
        "output_price, total_price, tokenizer_id, tokenizer_config, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, coalesce($12, now()))",
        model_id,
        project_id,
        model.model_name,
        model.match_pattern,
        model.start_date,
        model.unit,
        model.input_price,
        model.output_price,
        model.total_price,
        model.tokenizer_id,
        model.tokenizer_config,
        created_at,
    )


def _flat_tier(model: NewModel) -> NewTier:
    legacy = {"input": model.input_price, "output": model.output_price, "total": model.total_price}
    return NewTier(
        name="Standard",
        is_default=True,
        priority=0,
        conditions=[],
        prices={usage_type: price for usage_type, price in legacy.items() if price is not None},
    )


async def _insert_pricing(conn: Conn, project_id: str, model_id: str, model: NewModel) -> None:
    tiers: Sequence[NewTier] = model.pricing_tiers or (_flat_tier(model),)
    prices: list[tuple[str, str, str, str, str, Decimal]] = []
    for tier in tiers:
        # Langfuse's id for the tier made from flat prices; a fresh id otherwise.
        tier_id = f"{model_id}_tier_default" if not model.pricing_tiers else new_id()
        await conn.execute(
            "INSERT INTO pricing_tiers (id, model_id, name, is_default, priority, conditions) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            tier_id,
            model_id,
            tier.name,
            tier.is_default,
            tier.priority,
            tier.conditions,
        )
        prices.extend((new_id(), model_id, project_id, tier_id, usage, price) for usage, price in tier.prices.items())
    if prices:
        await conn.executemany(
            "INSERT INTO prices (id, model_id, project_id, pricing_tier_id, usage_type, price) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            prices,
        )


async def _with_tiers(conn: Conn, rows: Iterable[asyncpg.Record]) -> list[ModelRecord]:
    models = list(rows)
    if not models:
        return []
    ids = [m["id"] for m in models]
    tier_rows = await conn.fetch(
        "SELECT id, model_id, name, is_default, priority, conditions FROM pricing_tiers "
        "WHERE model_id = ANY($1::text[]) ORDER BY priority, name",
        ids,
    )
    price_rows = await conn.fetch(
        "SELECT pricing_tier_id, usage_type, price FROM prices WHERE model_id = ANY($1::text[]) ORDER BY usage_type",
        ids,
    )
    prices: dict[str, dict[str, Decimal]] = {}
    for p in price_rows:
        prices.setdefault(p["pricing_tier_id"], {})[p["usage_type"]] = p["price"]
    tiers: dict[str, list[TierRecord]] = {}
    for t in tier_rows:
        tiers.setdefault(t["model_id"], []).append(
            TierRecord(
                id=t["id"],
                name=t["name"],
                is_default=t["is_default"],
                priority=t["priority"],
                conditions=list(t["conditions"] or []),
                prices=prices.get(t["id"], {}),
            )
        )
    return [
        ModelRecord(
            id=m["id"],
            project_id=m["project_id"],
            model_name=m["model_name"],
            match_pattern=m["match_pattern"],
            start_date=m["start_date"],
            unit=m["unit"],
            input_price=m["input_price"],
            output_price=m["output_price"],
            total_price=m["total_price"],
            tokenizer_id=m["tokenizer_id"],
            tokenizer_config=m["tokenizer_config"],
            created_at=m["created_at"],
            pricing_tiers=tuple(tiers.get(m["id"], ())),
        )
        for m in models
    ]


async def load_model_definitions(pool: asyncpg.Pool, project_id: str) -> list[ModelDefinition]:
    """The worker's hook: a project's own models for `ModelMatcher.set_project_models`."""
    return await ModelsRepo(pool).for_project(project_id)
