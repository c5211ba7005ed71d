from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from spyglass.collector.pricing import (
    AttributeCondition,
    DefinitionError,
    ModelDefinition,
    PricingTier,
    UsageCondition,
    compile_model,
    compute_cost,
    match_model,
    model_definition_from_json,
    normalize_usage_details,
    provided_usage,
    usage_with_total,
)
from spyglass.collector.pricing.definitions import UsageOperator

from .catalog_data import default_prices, entry_named, tier_prices, usd


def test_gpt_4o_cost_from_file_prices(catalog_entries: list[dict[str, Any]]) -> None:
    prices = default_prices(entry_named(catalog_entries, "gpt-4o"))
    usage = usage_with_total(
        normalize_usage_details(
            {
                "prompt_tokens": 1800,
                "completion_tokens": 350,
                "total_tokens": 2150,
                "prompt_tokens_details": {"cached_tokens": 800},
            }
        )
    )
    result = compute_cost(usage, None, match_model("openai/gpt-4o"))

    expected_input = prices["input"] * 1000
    expected_cached = prices["input_cached_tokens"] * 800
    expected_output = prices["output"] * 350
    expected_total = expected_input + expected_cached + expected_output
    assert result.cost_details == {
        "input": usd(expected_input),
        "input_cached_tokens": usd(expected_cached),
        "output": usd(expected_output),
        "total": usd(expected_total),
    }
    assert result.total_cost == usd(expected_total)
    assert result.tier_name == "Standard"
    assert result.internal_model_id == entry_named(catalog_entries, "gpt-4o")["id"]


def test_case_insensitive_name_prices_the_same(catalog_entries: list[dict[str, Any]]) -> None:
    usage = {"input": 1000, "output": 1000, "total": 2000}
    lower = compute_cost(usage, None, match_model("gpt-4o"))
    upper = compute_cost(usage, None, match_model("GPT-4O"))
    assert lower == upper
    assert lower.total_cost is not None and lower.total_cost > 0


def test_unpriced_usage_keys_cost_nothing(catalog_entries: list[dict[str, Any]]) -> None:
    prices = default_prices(entry_named(catalog_entries, "gpt-4o"))
    assert "made_up_bucket" not in prices and "total" not in prices
    result = compute_cost({"input": 10, "made_up_bucket": 99, "total": 109}, None, match_model("gpt-4o"))
    assert set(result.cost_details) == {"input", "total"}
    assert result.total_cost == usd(prices["input"] * 10)


def test_total_priced_model_uses_the_total_entry(catalog_entries: list[dict[str, Any]]) -> None:
    entry = next(
        e
        for e in catalog_entries
        if set(default_prices(e)) == {"total"} and re.search(e["matchPattern"], e["modelName"])
    )
    price = default_prices(entry)["total"]
    result = compute_cost(usage_with_total({"input": 300, "output": 200}), None, match_model(entry["modelName"]))
    assert result.cost_details == {"total": usd(price * 500)}
    assert result.total_cost == usd(price * 500)


def _usage_threshold_tiers(entries: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(model, tier) pairs whose tier has exactly one usage condition `gt N` and nothing else,
    for models whose own name matches their pattern."""
    found = []
    for entry in entries:
        if not re.search(entry["matchPattern"], entry["modelName"]):
            continue
        for tier in entry["pricingTiers"]:
            conditions = tier["conditions"]
            if len(conditions) == 1 and "usageDetailPattern" in conditions[0] and conditions[0]["operator"] == "gt":
                found.append((entry, tier))
    return found


def test_catalog_has_large_context_tiers(catalog_entries: list[dict[str, Any]]) -> None:
    # The premise of the threshold tests below: the file must keep such tiers.
    names = {entry["modelName"] for entry, _ in _usage_threshold_tiers(catalog_entries)}
    assert {"gemini-2.5-pro", "gpt-5.4"} <= names


@pytest.mark.parametrize("model_name", ["gemini-2.5-pro", "gpt-5.4"])
def test_large_context_tier_switches_just_above_the_threshold(
    model_name: str, catalog_entries: list[dict[str, Any]]
) -> None:
    entry, tier = next((e, t) for e, t in _usage_threshold_tiers(catalog_entries) if e["modelName"] == model_name)
    threshold = int(tier["conditions"][0]["value"])
    model = match_model(model_name)
    assert model is not None

    at = compute_cost({"input": threshold, "output": 1000}, None, model)
    above = compute_cost({"input": threshold + 1, "output": 1000}, None, model)

    standard = default_prices(entry)
    large = tier_prices(entry, tier["name"])
    assert at.tier_name == "Standard"
    assert at.cost_details["input"] == usd(standard["input"] * threshold)
    assert above.tier_name == tier["name"]
    assert above.tier_id == tier["id"]
    assert above.cost_details["input"] == usd(large["input"] * (threshold + 1))
    assert above.cost_details["output"] == usd(large["output"] * 1000)
    assert large["input"] != standard["input"]


def test_usage_condition_sums_every_matching_key(catalog_entries: list[dict[str, Any]]) -> None:
    # gemini-2.5-pro's large-context pattern is (input|prompt|cached): two keys below the
    # threshold each can cross it together.
    entry = entry_named(catalog_entries, "gemini-2.5-pro")
    tier = next(t for t in entry["pricingTiers"] if not t["isDefault"])
    threshold = int(tier["conditions"][0]["value"])
    assert re.search(tier["conditions"][0]["usageDetailPattern"], "prompt_token_count", re.I)
    half = threshold // 2 + 1
    result = compute_cost({"input": half, "prompt_token_count": half}, None, match_model("gemini-2.5-pro"))
    assert result.tier_name == tier["name"]


def test_service_tier_attribute_selects_fast_mode(catalog_entries: list[dict[str, Any]]) -> None:
    entry = entry_named(catalog_entries, "gpt-4o")
    fast = next(t for t in entry["pricingTiers"] if t["name"] == "Fast mode")
    condition = fast["conditions"][0]
    assert condition["key"] == "service_tier" and "priority" in condition["values"]
    model = match_model("gpt-4o")
    usage = {"input": 1000, "output": 100}

    priority = compute_cost(usage, None, model, model_parameters={"service_tier": "priority"})
    default = compute_cost(usage, None, model, model_parameters={"service_tier": "default"})
    missing = compute_cost(usage, None, model, model_parameters={"temperature": 0.2})
    in_metadata = compute_cost(usage, None, model, metadata={"service_tier": "priority"})

    fast_prices = tier_prices(entry, "Fast mode")
    assert priority.tier_id == fast["id"]
    assert priority.cost_details["input"] == usd(fast_prices["input"] * 1000)
    assert default.tier_name == missing.tier_name == in_metadata.tier_name == "Standard"


def test_combined_conditions_need_all_to_hold(catalog_entries: list[dict[str, Any]]) -> None:
    # gpt-5.4 lists "Flex · Large context" (flex AND input > N) before plain "Flex".
    entry = entry_named(catalog_entries, "gpt-5.4")
    both = next(t for t in entry["pricingTiers"] if len(t["conditions"]) == 2)
    threshold = int(next(c["value"] for c in both["conditions"] if "usageDetailPattern" in c))
    flex_only = next(t for t in entry["pricingTiers"] if [c.get("values") for c in t["conditions"]] == [["flex"]])
    model = match_model("gpt-5.4")
    flex = {"service_tier": "flex"}

    big = compute_cost({"input": threshold + 1}, None, model, model_parameters=flex)
    small = compute_cost({"input": 1000}, None, model, model_parameters=flex)
    assert big.tier_id == both["id"]
    assert small.tier_id == flex_only["id"]


def test_provided_cost_wins_over_inferred() -> None:
    provided = provided_usage(usage={"input": 1000, "output": 500, "inputCost": 0.5, "outputCost": 0.25})
    result = compute_cost(usage_with_total(provided.usage_details), provided.cost_details, match_model("gpt-4o"))
    assert result.cost_details == {"input": 0.5, "output": 0.25, "total": 0.75}
    assert result.total_cost == 0.75
    # The model still matched and the tier is still recorded.
    assert result.internal_model_id is not None and result.tier_name == "Standard"


def test_provided_total_is_authoritative() -> None:
    result = compute_cost({"input": 10}, {"input": 0.1, "output": 0.2, "total": 1.0}, match_model("gpt-4o"))
    assert result.total_cost == 1.0
    assert result.cost_details == {"input": 0.1, "output": 0.2, "total": 1.0}


def test_provided_cost_without_total_sums_all_keys_exactly() -> None:
    result = compute_cost({}, {"input": 0.1, "output": 0.2, "input_cached_tokens": 0.3}, None)
    # Decimal arithmetic: 0.1 + 0.2 + 0.3 is exactly 0.6, not 0.6000000000000001.
    assert result.total_cost == 0.6
    assert result.cost_details["total"] == 0.6


def test_provided_cost_works_without_a_model() -> None:
    result = compute_cost({"input": 5}, {"total": 0.02}, None)
    assert result.cost_details == {"total": 0.02}
    assert result.total_cost == 0.02
    assert result.internal_model_id is None and result.tier_id is None


def test_invalid_provided_costs_fall_back_to_inference() -> None:
    result = compute_cost({"input": 1000}, {"input": None, "output": -1.0}, match_model("gpt-4o"))
    assert result.total_cost is not None and result.total_cost > 0
    assert result.total_cost != 1.0


def test_unknown_model_and_no_provided_cost_gives_no_cost() -> None:
    result = compute_cost({"input": 1000, "output": 10, "total": 1010}, None, match_model("my-own-llm"))
    assert result.cost_details == {}
    assert result.total_cost is None
    assert result.internal_model_id is None


def test_empty_usage_selects_no_tier_and_costs_nothing() -> None:
    model = match_model("gpt-4o")
    result = compute_cost({}, None, model)
    assert result.cost_details == {} and result.total_cost is None
    assert model is not None and result.internal_model_id == model.id
    assert result.tier_id is None


def _acme(**prices: str) -> ModelDefinition:
    return ModelDefinition(
        id="acme",
        model_name="acme",
        match_pattern="^acme$",
        project_id="p",
        input_price=Decimal(prices["input"]) if "input" in prices else None,
        output_price=Decimal(prices["output"]) if "output" in prices else None,
    )


def test_legacy_prices_become_the_default_tier() -> None:
    model = compile_model(_acme(input="0.000001", output="0.000003"))
    result = compute_cost({"input": 7, "output": 11, "total": 18}, None, model)
    assert result.cost_details == {"input": 0.000007, "output": 0.000033, "total": 0.00004}
    assert result.tier_name == "Standard"


def test_costs_round_to_twelve_decimals_and_clamp() -> None:
    model = compile_model(_acme(input="0.0000000000004", output="1"))
    tiny = compute_cost({"input": 1}, None, model)
    assert tiny.cost_details["input"] == 0.0
    huge = compute_cost({"output": 2_000_000}, None, model)
    assert huge.cost_details["output"] == 999_999.999_999
    assert huge.total_cost == 999_999.999_999


def test_project_model_with_custom_tiers_and_metadata_condition() -> None:
    definition = ModelDefinition(
        id="m",
        model_name="acme",
        match_pattern="(?i)^acme$",
        project_id="p",
        pricing_tiers=(
            PricingTier(id="std", name="Standard", is_default=True, priority=0, prices={"input": Decimal("1")}),
            PricingTier(
                id="batch",
                name="Batch",
                is_default=False,
                priority=2,
                prices={"input": Decimal("0.5")},
                conditions=(AttributeCondition(source="metadata", key="batch", values=("true",)),),
            ),
            PricingTier(
                id="bulk",
                name="Bulk",
                is_default=False,
                priority=1,
                prices={"input": Decimal("0.25")},
                conditions=(
                    UsageCondition(usage_detail_pattern="^INPUT$", operator="gte", value=100, case_sensitive=True),
                ),
            ),
        ),
    )
    model = match_model("ACME", [definition])
    assert model is not None
    # True stringifies as "true", the way Langfuse compares attributes.
    assert compute_cost({"input": 10}, None, model, metadata={"batch": True}).tier_id == "batch"
    # Case-sensitive pattern: "input" does not match "^INPUT$".
    assert compute_cost({"input": 500}, None, model).tier_id == "std"
    # Priority order: bulk (1) is checked before batch (2).
    assert compute_cost({"INPUT": 500}, None, model, metadata={"batch": True}).tier_id == "bulk"


def test_definition_from_langfuse_api_shape() -> None:
    definition = model_definition_from_json(
        {
            "id": "x",
            "modelName": "acme",
            "matchPattern": "^acme$",
            "startDate": "2025-01-01T00:00:00Z",
            "inputPrice": 0.002,
            "pricingTiers": [
                {
                    "id": "t1",
                    "name": "Large",
                    "isDefault": False,
                    "priority": 1,
                    "conditions": [{"usageDetailPattern": "input", "operator": "gt", "value": 10}],
                    "prices": {"input": {"price": 0.001}},
                }
            ],
        },
        project_id="p",
    )
    model = compile_model(definition)
    assert model.start_date is not None and model.start_date.year == 2025
    assert model.default_tier is not None and model.default_tier.prices == {"input": Decimal("0.002")}
    assert compute_cost({"input": 11}, None, model).cost_details["input"] == 0.011
    assert compute_cost({"input": 10}, None, model).cost_details["input"] == 0.02


def _acme_with_tier(condition: UsageCondition | AttributeCondition) -> ModelDefinition:
    return ModelDefinition(
        id="acme",
        model_name="acme",
        match_pattern="^acme$",
        pricing_tiers=(
            PricingTier(id="std", name="Standard", is_default=True, priority=0, prices={"input": Decimal("1")}),
            PricingTier(
                id="special",
                name="Special",
                is_default=False,
                priority=1,
                prices={"input": Decimal("2")},
                conditions=(condition,),
            ),
        ),
    )


def test_usage_condition_with_a_broken_pattern_never_holds() -> None:
    model = compile_model(_acme_with_tier(UsageCondition(usage_detail_pattern="(input", operator="gte", value=0)))
    assert compute_cost({"input": 5}, None, model).tier_id == "std"


@pytest.mark.parametrize(
    ("value", "wanted", "expected_tier"),
    [
        (2.0, "2", "special"),
        (2, "2", "special"),
        (0.5, "0.5", "special"),
        (False, "false", "special"),
        (["a", "b"], '["a","b"]', "special"),
        (None, "", "special"),
        ("2", "2.0", "std"),
    ],
)
def test_attribute_values_compare_as_javascript_strings(value: object, wanted: str, expected_tier: str) -> None:
    condition = AttributeCondition(source="model_parameters", key="k", values=(wanted,))
    model = compile_model(_acme_with_tier(condition))
    assert compute_cost({"input": 1}, None, model, model_parameters={"k": value}).tier_id == expected_tier


@pytest.mark.parametrize("operator", ["gt", "gte", "lt", "lte", "eq", "neq"])
def test_usage_condition_operators(operator: UsageOperator) -> None:
    expectations = {
        "gt": [False, False, True],
        "gte": [False, True, True],
        "lt": [True, False, False],
        "lte": [True, True, False],
        "eq": [False, True, False],
        "neq": [True, False, True],
    }
    model = compile_model(_acme_with_tier(UsageCondition(usage_detail_pattern="^input$", operator=operator, value=100)))
    got = [compute_cost({"input": units}, None, model).tier_id == "special" for units in (99, 100, 101)]
    assert got == expectations[operator]


@pytest.mark.parametrize(
    "raw",
    [
        {"modelName": "acme", "matchPattern": "^acme$"},
        {"id": "x", "modelName": "acme", "matchPattern": "^acme$", "startDate": "yesterday"},
        {
            "id": "x",
            "modelName": "acme",
            "matchPattern": "^acme$",
            "inputPrice": 1,
            "pricingTiers": [
                {
                    "id": "t",
                    "name": "T",
                    "priority": 1,
                    "conditions": [{"usageDetailPattern": "x", "operator": "~"}],
                }
            ],
        },
        {
            "id": "x",
            "modelName": "acme",
            "matchPattern": "^acme$",
            "pricingTiers": [{"id": "t", "name": "T", "isDefault": True, "prices": {"input": -1}}],
        },
    ],
)
def test_bad_definitions_raise_definition_error(raw: dict[str, Any]) -> None:
    with pytest.raises(DefinitionError):
        model_definition_from_json(raw)
