"""Models API through the Langfuse SDK's API client, the repository the ingestion worker reads,
and cost inference with a project model overriding a built-in one."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from langfuse.api.client import LangfuseAPI
from langfuse.api.commons.errors.not_found_error import NotFoundError
from langfuse.api.commons.types.model import Model
from langfuse.api.commons.types.pricing_tier_attribute_condition import PricingTierAttributeCondition
from langfuse.api.commons.types.pricing_tier_input import PricingTierInput
from langfuse.api.commons.types.pricing_tier_usage_condition_input import PricingTierUsageConditionInput

from spyglass.collector.pricing import ModelMatcher, builtin_catalog
from spyglass.store.postgres.models_repo import MODELS_CHANGED_CHANNEL, builtin_models, load_model_definitions
from spyglass.store.postgres.notify import listen
from tests.harness import Harness, ProjectKeys

GPT4O_BUILTIN = "b9854a5c92dc496b997d99d20"


def api(spyglass: Harness, keys: ProjectKeys) -> LangfuseAPI:
    return LangfuseAPI(base_url=spyglass.url, username=keys.public_key, password=keys.secret_key, timeout=30)


async def call(spyglass: Harness, keys: ProjectKeys, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            f"{spyglass.url}{path}",
            headers={**keys.headers, "Content-Type": "application/json"},
            data=json.dumps(body) if body is not None else None,
        ) as resp,
    ):
        return resp.status, await resp.json()


async def test_builtin_catalog_is_listed_and_paged(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    client = api(spyglass, keys)
    first = await asyncio.to_thread(client.models.list, page=1, limit=100)
    second = await asyncio.to_thread(client.models.list, page=2, limit=100)
    n = len(builtin_models())
    assert n > 100
    assert first.meta.total_items == n and first.meta.total_pages == 2
    models = [*first.data, *second.data]
    assert len(models) == n and len({m.id for m in models}) == n
    assert all(m.is_langfuse_managed for m in models)
    names = [m.model_name for m in models]
    assert names == sorted(names)
    gpt4o = next(m for m in models if m.id == GPT4O_BUILTIN)
    assert gpt4o.model_name == "gpt-4o" and gpt4o.match_pattern == "(?i)^(openai/)?(gpt-4o)$"
    assert gpt4o.prices["input"].price == pytest.approx(2.5e-6) and gpt4o.input_price == pytest.approx(2.5e-6)
    assert {t.is_default for t in gpt4o.pricing_tiers} == {True, False}
    got = await asyncio.to_thread(client.models.get, GPT4O_BUILTIN)
    assert got == gpt4o


async def test_create_get_list_delete_with_flat_prices(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    client = api(spyglass, keys)
    created = await asyncio.to_thread(
        client.models.create,
        model_name="acme-llm",
        match_pattern="(?i)^acme-llm(-\\d+)?$",
        unit="TOKENS",
        input_price=0.001,
        output_price=0.002,
        tokenizer_id="openai",
        tokenizer_config={"tokenizerModel": "gpt-4o"},
    )
    assert isinstance(created, Model)
    assert created.is_langfuse_managed is False
    assert created.input_price == 0.001 and created.output_price == 0.002 and created.total_price is None
    assert {k: v.price for k, v in created.prices.items()} == {"input": 0.001, "output": 0.002}
    assert [(t.id, t.name, t.is_default, t.priority) for t in created.pricing_tiers] == [
        (f"{created.id}_tier_default", "Standard", True, 0)
    ]
    assert created.tokenizer_config == {"tokenizerModel": "gpt-4o"}

    assert await asyncio.to_thread(client.models.get, created.id) == created
    listed = await asyncio.to_thread(client.models.list, limit=100, page=1)
    assert listed.meta.total_items == len(builtin_models()) + 1
    everything = [m for p in (1, 2) for m in (await asyncio.to_thread(client.models.list, page=p, limit=100)).data]
    assert [m for m in everything if not m.is_langfuse_managed] == [created]

    await asyncio.to_thread(client.models.delete, created.id)
    with pytest.raises(NotFoundError):
        await asyncio.to_thread(client.models.get, created.id)
    with pytest.raises(NotFoundError):
        await asyncio.to_thread(client.models.delete, created.id)


async def test_create_with_pricing_tiers(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    client = api(spyglass, keys)
    created = await asyncio.to_thread(
        client.models.create,
        model_name="tiered",
        match_pattern="^tiered$",
        unit="TOKENS",
        pricing_tiers=[
            PricingTierInput(name="Standard", is_default=True, priority=0, conditions=[], prices={"input": 1e-6}),
            PricingTierInput(
                name="Large context",
                is_default=False,
                priority=1,
                conditions=[PricingTierUsageConditionInput(usage_detail_pattern="input", operator="gt", value=200000)],
                prices={"input": 2e-6, "output": 4e-6},
            ),
            PricingTierInput(
                name="Priority",
                priority=2,
                conditions=[
                    PricingTierAttributeCondition(source="model_parameters", key="service_tier", values=["fast"])
                ],
                prices={"input": 3e-6},
            ),
        ],
    )
    tiers = {t.name: t for t in created.pricing_tiers}
    assert [t.priority for t in created.pricing_tiers] == [0, 1, 2]
    assert tiers["Standard"].prices == {"input": 1e-6}
    assert tiers["Large context"].conditions[0].case_sensitive is False  # filled in
    assert tiers["Priority"].conditions[0].values == ["fast"]
    assert created.input_price == 1e-6 and created.prices == {"input": created.prices["input"]}
    assert await asyncio.to_thread(client.models.get, created.id) == created

    # The worker's view of the same model: the large-context tier applies above 200k input.
    (definition,) = await load_model_definitions(spyglass.stores.pg, keys.project_id)
    assert definition.id == created.id and definition.project_id == keys.project_id
    assert {t.name: t.prices for t in definition.pricing_tiers}["Large context"] == {
        "input": Decimal("0.000002"),
        "output": Decimal("0.000004"),
    }


BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"modelName": "x", "matchPattern": "(unclosed", "unit": "TOKENS", "inputPrice": 1}, "matchPattern"),
    # Python's re accepts a backreference; RE2 (linear-time matching) does not, and says so.
    ({"modelName": "x", "matchPattern": "^(a)\\1$", "unit": "TOKENS", "inputPrice": 1}, "not a valid RE2 pattern"),
    ({"modelName": "x", "matchPattern": "^x$", "unit": "TOKENS"}, "Must provide"),
    (
        {
            "modelName": "x",
            "matchPattern": "^x$",
            "unit": "TOKENS",
            "inputPrice": 1,
            "pricingTiers": [{"name": "S", "isDefault": True, "priority": 0, "conditions": [], "prices": {"input": 1}}],
        },
        "only one of",
    ),
    ({"modelName": "x", "matchPattern": "^x$", "unit": "TOKENS", "inputPrice": 1, "totalPrice": 2}, "total price"),
    ({"modelName": "x", "matchPattern": "^x$", "unit": "PARSECS", "inputPrice": 1}, "PARSECS"),
    ({"modelName": "x", "matchPattern": "^x$", "unit": "TOKENS", "inputPrice": -1}, "non-negative"),
    (
        {"modelName": "x", "matchPattern": "^x$", "unit": "TOKENS", "tokenizerId": "sentencepiece", "inputPrice": 1},
        "tokenizerId",
    ),
    (
        {
            "modelName": "x",
            "matchPattern": "^x$",
            "unit": "TOKENS",
            "pricingTiers": [{"name": "A", "priority": 1, "conditions": [], "prices": {"input": 1}}],
        },
        "exactly one default",
    ),
    (
        {
            "modelName": "x",
            "matchPattern": "^x$",
            "pricingTiers": [
                {"name": "S", "isDefault": True, "priority": 0, "conditions": [], "prices": {"input": 1}},
                {
                    "name": "B",
                    "priority": 1,
                    "conditions": [{"usageDetailPattern": "input", "operator": "about", "value": 3}],
                    "prices": {"input": 1},
                },
            ],
        },
        "about",
    ),
    ({"matchPattern": "^x$", "inputPrice": 1}, "modelName"),
]


@pytest.mark.parametrize(("body", "needle"), BAD_BODIES)
async def test_invalid_models_are_rejected(spyglass: Harness, body: dict[str, Any], needle: str) -> None:
    keys = await spyglass.new_project()
    status, answer = await call(spyglass, keys, "POST", "/api/public/models", body)
    assert status == 400
    assert needle in answer["message"]


async def test_model_names_are_unique_per_project(spyglass: Harness) -> None:
    a, b = await spyglass.new_project(), await spyglass.new_project()
    body = {"modelName": "dup", "matchPattern": "^dup$", "unit": "TOKENS", "inputPrice": 1}
    assert (await call(spyglass, a, "POST", "/api/public/models", body))[0] == 200
    status, answer = await call(spyglass, a, "POST", "/api/public/models", body)
    assert status == 400 and "'dup' already exists" in answer["message"]
    assert (await call(spyglass, b, "POST", "/api/public/models", body))[0] == 200


async def test_upsert_by_id(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    client = api(spyglass, keys)
    first = await asyncio.to_thread(
        client.models.upsert, "my-model-1", model_name="mine", match_pattern="^mine$", unit="TOKENS", input_price=1.0
    )
    assert first.id == "my-model-1" and first.input_price == 1.0
    second = await asyncio.to_thread(
        client.models.upsert,
        "my-model-1",
        model_name="mine",
        match_pattern="^mine2?$",
        unit="REQUESTS",
        total_price=5.0,
    )
    assert second.id == "my-model-1" and second.match_pattern == "^mine2?$" and second.unit == "REQUESTS"
    assert second.input_price is None and second.total_price == 5.0
    assert second.created_at == first.created_at
    with pytest.raises(NotFoundError):
        await asyncio.to_thread(
            client.models.upsert,
            GPT4O_BUILTIN,
            model_name="gpt-4o",
            match_pattern="^x$",
            unit="TOKENS",
            input_price=1.0,
        )


async def test_projects_cannot_see_or_change_each_others_models(spyglass: Harness) -> None:
    a, b = await spyglass.new_project(), await spyglass.new_project()
    mine = await asyncio.to_thread(
        api(spyglass, a).models.create, model_name="secret", match_pattern="^secret$", unit="TOKENS", input_price=1.0
    )
    theirs = api(spyglass, b)
    with pytest.raises(NotFoundError):
        await asyncio.to_thread(theirs.models.get, mine.id)
    with pytest.raises(NotFoundError):
        await asyncio.to_thread(theirs.models.delete, mine.id)
    with pytest.raises(NotFoundError):
        await asyncio.to_thread(
            theirs.models.upsert, mine.id, model_name="stolen", match_pattern="^s$", unit="TOKENS", input_price=0.0
        )
    listed = await asyncio.to_thread(theirs.models.list, page=2, limit=100)
    assert all(m.is_langfuse_managed for m in listed.data)
    assert await asyncio.to_thread(api(spyglass, a).models.get, mine.id) == mine
    assert await load_model_definitions(spyglass.stores.pg, b.project_id) == []
    with pytest.raises(NotFoundError):  # built-ins cannot be deleted
        await asyncio.to_thread(theirs.models.delete, GPT4O_BUILTIN)


async def test_project_model_overrides_builtin_in_the_matcher_and_changes_are_announced(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    client = api(spyglass, keys)
    notified: asyncio.Queue[str] = asyncio.Queue()
    matcher = ModelMatcher()

    async def reload_if_needed() -> None:
        if not matcher.has_project(keys.project_id):
            matcher.set_project_models(
                keys.project_id, await load_model_definitions(spyglass.stores.pg, keys.project_id)
            )

    async with listen(spyglass.stores.pg, {MODELS_CHANGED_CHANNEL: notified.put_nowait}):
        await reload_if_needed()
        assert matcher.match(keys.project_id, "gpt-4o").id == GPT4O_BUILTIN  # type: ignore[union-attr]

        own = await asyncio.to_thread(
            client.models.create, model_name="gpt-4o", match_pattern="(?i)^gpt-4o$", unit="TOKENS", input_price=1.0
        )
        assert await asyncio.wait_for(notified.get(), 5) == keys.project_id
        matcher.invalidate(keys.project_id)
        await reload_if_needed()
        assert matcher.match(keys.project_id, "GPT-4o").id == own.id  # type: ignore[union-attr]
        assert matcher.match("some-other-project", "gpt-4o").id == GPT4O_BUILTIN  # type: ignore[union-attr]

        await asyncio.to_thread(client.models.delete, own.id)
        assert await asyncio.wait_for(notified.get(), 5) == keys.project_id
        matcher.invalidate(keys.project_id)
        await reload_if_needed()
        assert matcher.match(keys.project_id, "gpt-4o").id == GPT4O_BUILTIN  # type: ignore[union-attr]
    assert builtin_catalog()[0].id == builtin_models()[0].id  # the API lists what the matcher uses


async def test_new_data_is_priced_with_the_project_model(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    client = api(spyglass, keys)
    # Created before the project's first generation, so the worker loads them on first use.
    await asyncio.to_thread(
        client.models.create,
        model_name="gpt-4o",
        match_pattern="(?i)^gpt-4o$",
        unit="TOKENS",
        input_price=1.0,
        output_price=2.0,
    )
    await asyncio.to_thread(
        client.models.create,
        model_name="house-llm",
        match_pattern="^house-llm$",
        unit="TOKENS",
        input_price=0.5,
        output_price=0.25,
    )

    def run() -> None:
        from langfuse import Langfuse

        lf = Langfuse(public_key=keys.public_key, secret_key=keys.secret_key, base_url=spyglass.url)
        for model in ("gpt-4o", "house-llm", "gpt-4o-mini"):
            with lf.start_as_current_observation(name=f"gen-{model}", as_type="generation", model=model) as gen:
                gen.update(usage_details={"input": 10, "output": 4})
        lf.flush()

    await asyncio.to_thread(run)
    await spyglass.wait_idle()
    rows = await spyglass.stores.ch.rows(
        "SELECT name, total_cost FROM observations WHERE project_id = {p:String} ORDER BY event_ts DESC LIMIT 1 BY id",
        {"p": keys.project_id},
    )
    costs = {r["name"]: float(r["total_cost"]) for r in rows}
    assert costs["gen-gpt-4o"] == pytest.approx(10 * 1.0 + 4 * 2.0)  # project model, not the built-in
    assert costs["gen-house-llm"] == pytest.approx(10 * 0.5 + 4 * 0.25)
    assert costs["gen-gpt-4o-mini"] == pytest.approx(10 * 0.15e-6 + 4 * 0.6e-6)  # still the built-in
