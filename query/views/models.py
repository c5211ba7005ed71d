"""Models API: GET/POST /api/public/models, GET/PUT/DELETE /api/public/models/{id}.

A project's own model definitions (custom prices) are listed together with the built-in
catalog, which is marked `isLangfuseManaged` and cannot be changed or deleted; a project model
whose pattern matches the same names takes precedence for cost inference of new data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
from aiohttp import web

from spyglass.collector.http import STORES, ApiError, json_response
from spyglass.collector.pricing import AttributeCondition, DefinitionError, tier_condition_from_json
from spyglass.collector.pricing.patterns import PatternError, compile_pattern
from spyglass.collector.time_range import in_range, out_of_range
from spyglass.query.reads import scope
from spyglass.query.reads.params import check_body
from spyglass.query.reads.values import iso_dt
from spyglass.store.postgres.models_repo import (
    ModelRecord,
    ModelsRepo,
    NewModel,
    NewTier,
    builtin_model,
    builtin_models,
)

UNITS = ("TOKENS", "CHARACTERS", "MILLISECONDS", "SECONDS", "REQUESTS", "IMAGES")
TOKENIZERS = ("openai", "claude")
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_ID_LENGTH = 255
NOT_FOUND = "No model with this id found."


class TierInput(msgspec.Struct, frozen=True, rename="camel"):
    name: str
    priority: int
    prices: dict[str, Any]
    conditions: list[dict[str, Any]] = []
    is_default: bool | None = None


class ModelInput(msgspec.Struct, frozen=True, rename="camel"):
    model_name: str
    match_pattern: str
    unit: str | None = None
    start_date: datetime | None = None
    input_price: float | None = None
    output_price: float | None = None
    total_price: float | None = None
    # Prices per usage type, `{type: price}` or `{type: {price}}`: a single default tier.
    prices: dict[str, Any] | None = None
    pricing_tiers: list[TierInput] | None = None
    tokenizer_id: str | None = None
    tokenizer_config: Any = None


# ---- rendering ------------------------------------------------------------------------------


def _condition_json(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A stored condition in the API's complete shape (caseSensitive always present)."""
    try:
        condition = tier_condition_from_json(raw)
    except DefinitionError:
        return dict(raw)
    if isinstance(condition, AttributeCondition):
        return {"source": condition.source, "key": condition.key, "operator": "in", "values": list(condition.values)}
    return {
        "usageDetailPattern": condition.usage_detail_pattern,
        "operator": condition.operator,
        "value": condition.value,
        "caseSensitive": condition.case_sensitive,
    }


def model_json(model: ModelRecord) -> dict[str, Any]:
    default = next((t for t in model.pricing_tiers if t.is_default), None)
    if default is not None:
        flat = {usage: float(price) for usage, price in default.prices.items()}
    else:
        legacy = {"input": model.input_price, "output": model.output_price, "total": model.total_price}
        flat = {usage: float(price) for usage, price in legacy.items() if price is not None}

    def legacy_or_flat(usage: str, column: Decimal | None) -> float | None:
        if usage in flat:
            return flat[usage]
        return float(column) if column is not None else None

    return {
        "id": model.id,
        "modelName": model.model_name,
        "matchPattern": model.match_pattern,
        "startDate": iso_dt(model.start_date),
        "unit": model.unit,
        "inputPrice": legacy_or_flat("input", model.input_price),
        "outputPrice": legacy_or_flat("output", model.output_price),
        "totalPrice": legacy_or_flat("total", model.total_price),
        "tokenizerId": model.tokenizer_id,
        "tokenizerConfig": model.tokenizer_config,
        "isLangfuseManaged": model.is_builtin,
        "createdAt": iso_dt(model.created_at),
        "prices": {usage: {"price": price} for usage, price in flat.items()},
        "pricingTiers": [
            {
                "id": t.id,
                "name": t.name,
                "isDefault": t.is_default,
                "priority": t.priority,
                "conditions": [_condition_json(c) for c in t.conditions],
                "prices": {usage: float(price) for usage, price in t.prices.items()},
            }
            for t in sorted(model.pricing_tiers, key=lambda t: t.priority)
        ],
    }


# ---- validation -----------------------------------------------------------------------------


def _bad(message: str) -> ApiError:
    return ApiError(400, f"Invalid request data: {message}")


def _amount(value: Any, what: str) -> Decimal:
    if isinstance(value, Mapping):
        value = value.get("price")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise _bad(f"{what} must be a non-negative number")
    # repr keeps 2.5e-06 as Decimal('0.0000025') rather than the binary double's expansion.
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _prices(raw: Mapping[str, Any], what: str) -> dict[str, Decimal]:
    prices = {}
    for usage, value in raw.items():
        if not usage:
            raise _bad(f"{what}: usage types must be non-empty")
        prices[usage] = _amount(value, f"{what} price for '{usage}'")
    return prices


def _tier(raw: TierInput) -> NewTier:
    conditions: list[dict[str, Any]] = []
    for condition in raw.conditions:
        try:
            parsed = tier_condition_from_json(condition)
        except DefinitionError as exc:
            raise _bad(f"pricing tier '{raw.name}': {exc}") from None
        if isinstance(parsed, AttributeCondition):
            if not parsed.values:
                raise _bad(f"pricing tier '{raw.name}': an attribute condition needs at least one value")
            conditions.append(
                {"source": parsed.source, "key": parsed.key, "operator": "in", "values": list(parsed.values)}
            )
        else:
            try:
                compile_pattern(parsed.usage_detail_pattern, ignore_case=not parsed.case_sensitive)
            except PatternError as exc:
                raise _bad(f"pricing tier '{raw.name}': usageDetailPattern does not compile: {exc}") from None
            conditions.append(
                {
                    "usageDetailPattern": parsed.usage_detail_pattern,
                    "operator": parsed.operator,
                    "value": parsed.value,
                    "caseSensitive": parsed.case_sensitive,
                }
            )
    prices = _prices(raw.prices, f"pricing tier '{raw.name}'")
    if not prices:
        raise _bad(f"pricing tier '{raw.name}' must define at least one price")
    return NewTier(
        name=raw.name, is_default=bool(raw.is_default), priority=raw.priority, conditions=conditions, prices=prices
    )


def _tiers(raw: list[TierInput]) -> tuple[NewTier, ...]:
    tiers = tuple(_tier(t) for t in raw)
    defaults = [t for t in tiers if t.is_default]
    if len(defaults) != 1:
        raise _bad("pricingTiers must include exactly one default tier (isDefault: true)")
    if defaults[0].priority != 0 or defaults[0].conditions:
        raise _bad("the default pricing tier must have priority 0 and no conditions")
    if len({t.name for t in tiers}) != len(tiers):
        raise _bad("pricing tier names must be unique within the model")
    if len({t.priority for t in tiers}) != len(tiers):
        raise _bad("pricing tier priorities must be unique within the model")
    for t in tiers:
        if not t.is_default and not t.conditions:
            raise _bad(f"pricing tier '{t.name}' is not the default and needs at least one condition")
    return tiers


def new_model(body: ModelInput) -> NewModel:
    """Check a create/replace body the way Langfuse does; ApiError 400 naming the problem."""
    name = body.model_name.strip()
    if not name:
        raise _bad("modelName must not be empty")
    if not body.match_pattern:
        raise _bad("matchPattern must not be empty")
    try:
        # Cost inference matches with RE2 (linear time); a pattern it cannot compile never matches.
        compile_pattern(body.match_pattern)
    except PatternError as exc:
        raise _bad(f"matchPattern is not a valid RE2 pattern (no backreferences or lookaround): {exc}") from None
    unit = body.unit or "TOKENS"
    if unit not in UNITS:
        raise _bad(f"unit '{unit}' is not one of {', '.join(UNITS)}")
    if body.tokenizer_id is not None and body.tokenizer_id not in TOKENIZERS:
        raise _bad(f"tokenizerId '{body.tokenizer_id}' is not one of {', '.join(TOKENIZERS)}")

    flat = {"input": body.input_price, "output": body.output_price, "total": body.total_price}
    has_flat = any(v is not None for v in flat.values())
    has_tiers = bool(body.pricing_tiers)
    has_map = bool(body.prices)
    if has_flat + has_tiers + has_map > 1:
        raise _bad("Must provide only one of: flat prices (inputPrice/outputPrice/totalPrice), prices, pricingTiers")
    if not (has_flat or has_tiers or has_map):
        raise _bad("Must provide either flat prices (inputPrice/outputPrice/totalPrice) OR pricingTiers")
    start_date = body.start_date
    if start_date is not None and not in_range(start_date):
        raise _bad(f"startDate {out_of_range(start_date.isoformat())}")
    if start_date is not None and start_date.tzinfo is None:
        start_date = start_date.replace(tzinfo=UTC)
    common: dict[str, Any] = {
        "model_name": name,
        "match_pattern": body.match_pattern,
        "start_date": start_date,
        "unit": unit,
        "tokenizer_id": body.tokenizer_id,
        "tokenizer_config": body.tokenizer_config,
    }
    if has_tiers:
        assert body.pricing_tiers is not None
        return NewModel(**common, pricing_tiers=_tiers(body.pricing_tiers))
    if has_map:
        assert body.prices is not None
        prices = _prices(body.prices, "prices")
        tier = NewTier(name="Standard", is_default=True, priority=0, conditions=[], prices=prices)
        return NewModel(**common, pricing_tiers=(tier,))
    if (body.input_price or body.output_price) and body.total_price:
        raise _bad("If input and/or output price is set, total price must be null")
    amounts = {usage: _amount(v, f"{usage}Price") for usage, v in flat.items() if v is not None}
    return NewModel(
        **common,
        input_price=amounts.get("input"),
        output_price=amounts.get("output"),
        total_price=amounts.get("total"),
    )


# ---- handlers -------------------------------------------------------------------------------


async def _body(request: web.Request) -> ModelInput:
    raw = await request.read()
    check_body(raw)
    try:
        return msgspec.json.decode(raw, type=ModelInput)
    except msgspec.ValidationError as exc:
        raise _bad(str(exc)) from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise _bad("the body is not valid JSON") from None


def _page_params(request: web.Request) -> tuple[int, int]:
    values = []
    for name, default, maximum in (("page", 1, 10**9), ("limit", DEFAULT_LIMIT, MAX_LIMIT)):
        raw = request.query.get(name)
        try:
            value = default if raw in (None, "") else int(raw)
        except ValueError:
            raise ApiError(400, f"Invalid query parameter '{name}': {raw!r} is not an integer") from None
        if not 1 <= value <= maximum:
            raise ApiError(400, f"Invalid query parameter '{name}': must be between 1 and {maximum}")
        values.append(value)
    return values[0], values[1]


def _list_order(model: ModelRecord) -> tuple[Any, ...]:
    # Langfuse's order: name, unit, newest start date first (undated last); ties put the
    # project's own definition before the built-in one it overrides.
    start = model.start_date
    return (
        model.model_name,
        model.unit or "",
        start is None,
        -start.timestamp() if start is not None else 0.0,
        model.is_builtin,
        model.id,
    )


async def list_models(request: web.Request) -> web.Response:
    project_id = await scope.project_id(request)
    page, limit = _page_params(request)
    own = await ModelsRepo(request.app[STORES].pg).list_project(project_id)
    everything = sorted([*own, *builtin_models()], key=_list_order)
    start = (page - 1) * limit
    return json_response(
        {
            "data": [model_json(m) for m in everything[start : start + limit]],
            "meta": {
                "page": page,
                "limit": limit,
                "totalItems": len(everything),
                "totalPages": math.ceil(len(everything) / limit),
            },
        }
    )


async def create_model(request: web.Request) -> web.Response:
    project_id = await scope.project_id(request)
    model = new_model(await _body(request))
    repo = ModelsRepo(request.app[STORES].pg)
    if await repo.name_taken(project_id, model.model_name):
        raise _bad(f"Model name '{model.model_name}' already exists in project")
    return json_response(model_json(await repo.create(project_id, model)))


async def get_model(request: web.Request) -> web.Response:
    project_id = await scope.project_id(request)
    model_id = request.match_info["model_id"]
    model = await ModelsRepo(request.app[STORES].pg).get_project(project_id, model_id) or builtin_model(model_id)
    if model is None:
        raise ApiError(404, NOT_FOUND)
    return json_response(model_json(model))


async def upsert_model(request: web.Request) -> web.Response:
    project_id = await scope.project_id(request)
    model_id = request.match_info["model_id"]
    if len(model_id) > MAX_ID_LENGTH:
        raise _bad(f"model id longer than {MAX_ID_LENGTH} characters")
    model = new_model(await _body(request))
    if builtin_model(model_id) is not None:
        raise ApiError(404, f"{NOT_FOUND} Built-in models cannot be modified; create a project model to override it.")
    repo = ModelsRepo(request.app[STORES].pg)
    exists, owner = await repo.owner_of(model_id)
    if exists and owner != project_id:
        raise ApiError(404, NOT_FOUND)
    if await repo.name_taken(project_id, model.model_name, except_id=model_id):
        raise _bad(f"Model name '{model.model_name}' already exists in project")
    return json_response(model_json(await repo.replace(project_id, model_id, model)))


async def delete_model(request: web.Request) -> web.Response:
    project_id = await scope.project_id(request)
    model_id = request.match_info["model_id"]
    if not await ModelsRepo(request.app[STORES].pg).delete(project_id, model_id):
        raise ApiError(
            404,
            f"{NOT_FOUND} Note: You cannot delete built-in models, override them with a model with the same name.",
        )
    return json_response({"message": "Model successfully deleted"})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/public/models", list_models)
    app.router.add_post("/api/public/models", create_model)
    app.router.add_get("/api/public/models/{model_id}", get_model)
    app.router.add_put("/api/public/models/{model_id}", upsert_model)
    app.router.add_delete("/api/public/models/{model_id}", delete_model)
