from __future__ import annotations

import pytest

from spyglass.collector.pricing import (
    normalize_cost_details,
    normalize_legacy_usage,
    normalize_usage_details,
    provided_usage,
    usage_with_total,
)


def test_openai_chat_usage_subtracts_details_from_input_and_output() -> None:
    usage = normalize_usage_details(
        {
            "prompt_tokens": 1200,
            "completion_tokens": 300,
            "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 1000, "audio_tokens": 50},
            "completion_tokens_details": {"reasoning_tokens": 120, "audio_tokens": None},
        }
    )
    assert usage == {
        "input": 150,
        "output": 180,
        "total": 1500,
        "input_cached_tokens": 1000,
        "input_audio_tokens": 50,
        "output_reasoning_tokens": 120,
    }


def test_openai_chat_detail_larger_than_base_floors_at_zero() -> None:
    usage = normalize_usage_details(
        {"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 25}}
    )
    assert usage["input"] == 0
    assert usage["input_cached_tokens"] == 25


def test_openai_chat_ignores_proxy_extras_that_are_not_token_buckets() -> None:
    # OpenRouter adds a cost, LiteLLM repeats the cache count at top level.
    usage = normalize_usage_details(
        {
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "total_tokens": 120,
            "cost": 0.0042,
            "cache_read_input_tokens": 40,
            "prompt_tokens_details": {"cached_tokens": 40},
        }
    )
    assert usage == {"input": 60, "output": 20, "total": 120, "input_cached_tokens": 40}


def test_openai_responses_usage_subtracts_details() -> None:
    usage = normalize_usage_details(
        {
            "input_tokens": 900,
            "output_tokens": 400,
            "total_tokens": 1300,
            "input_tokens_details": {"cached_tokens": 600},
            "output_tokens_details": {"reasoning_tokens": 350},
        }
    )
    assert usage == {
        "input": 300,
        "output": 50,
        "total": 1300,
        "input_cached_tokens": 600,
        "output_reasoning_tokens": 350,
    }


def test_anthropic_usage_keeps_its_own_key_names() -> None:
    # Extra keys rule out the Responses shape; Claude prices these names directly.
    raw = {
        "input_tokens": 12,
        "output_tokens": 40,
        "cache_creation_input_tokens": 3000,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
        "cache_creation": {"ephemeral_5m_input_tokens": 3000},
    }
    assert normalize_usage_details(raw) == {
        "input_tokens": 12,
        "output_tokens": 40,
        "cache_creation_input_tokens": 3000,
        "cache_read_input_tokens": 0,
    }


def test_raw_map_parses_numeric_strings_and_drops_garbage() -> None:
    raw = {
        "input": "120",
        "output": 30.0,
        "cached": " 7 ",
        "images": "1e2",
        "negative": -5,
        "fraction": 2.5,
        "word": "many",
        "flag": True,
        "nothing": None,
        "nested": {"a": 1},
        "infinite": float("inf"),
        "too_big": 2**64,
    }
    assert normalize_usage_details(raw) == {"input": 120, "output": 30, "cached": 7, "images": 100}


@pytest.mark.parametrize("raw", [None, 42, "input=3", ["input", 3]])
def test_non_mapping_usage_is_empty(raw: object) -> None:
    assert normalize_usage_details(raw) == {}


def test_usage_with_total_sums_every_key_when_total_missing() -> None:
    assert usage_with_total({"input": 10, "output": 5, "input_cached_tokens": 3}) == {
        "input": 10,
        "output": 5,
        "input_cached_tokens": 3,
        "total": 18,
    }


def test_usage_with_total_keeps_a_given_total_and_leaves_empty_alone() -> None:
    assert usage_with_total({"input": 10, "total": 11}) == {"input": 10, "total": 11}
    assert usage_with_total({}) == {}


def test_legacy_usage_with_costs() -> None:
    provided = normalize_legacy_usage(
        {"input": 100, "output": 50, "unit": "TOKENS", "inputCost": 0.001, "outputCost": "0.002"}
    )
    assert provided.usage_details == {"input": 100, "output": 50, "total": 150}
    assert provided.cost_details == {"input": 0.001, "output": 0.002}
    assert provided.unit == "TOKENS"


def test_legacy_usage_openai_spelling_implies_tokens() -> None:
    provided = normalize_legacy_usage(
        {"promptTokens": 11, "completionTokens": 4, "totalTokens": 16, "unit": "CHARACTERS"}
    )
    assert provided.usage_details == {"input": 11, "output": 4, "total": 16}
    assert provided.unit == "TOKENS"


def test_legacy_usage_single_side_total_is_that_side() -> None:
    assert normalize_legacy_usage({"output": 9}).usage_details == {"output": 9, "total": 9}


def test_usage_details_override_legacy_usage_and_suppress_its_total_inference() -> None:
    provided = provided_usage(
        usage={"input": 100, "output": 50, "totalCost": 0.5},
        usage_details={"input": 80, "input_cached_tokens": 20},
        cost_details={"total": 0.75, "input": -1},
    )
    # No legacy total: with usageDetails present, the stored total is the sum of everything.
    assert provided.usage_details == {"input": 80, "output": 50, "input_cached_tokens": 20}
    assert usage_with_total(provided.usage_details)["total"] == 150
    assert provided.cost_details == {"total": 0.75}


def test_cost_details_keep_non_negative_finite_numbers() -> None:
    costs = normalize_cost_details(
        {
            "input": 0.25,
            "output": "1.5",
            "zero": 0,
            "neg": -0.1,
            "nan": float("nan"),
            "word": "x",
            "flag": False,
        }
    )
    assert costs == {"input": 0.25, "output": 1.5, "zero": 0.0}


def test_cost_details_clamp_to_decimal64_range() -> None:
    costs = normalize_cost_details({"total": 5_000_000, "input": "999999.9999999999999"})
    assert costs == {"total": 999_999.999_999, "input": 999_999.999_999}
