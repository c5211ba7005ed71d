from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from spyglass.collector.pricing import (
    ModelDefinition,
    ModelMatcher,
    PricingTier,
    builtin_catalog,
    match_model,
)

from .catalog_data import CATALOG_PATH, entry_named

# sha256 of Langfuse's default-model-prices.json as bundled; a deliberate catalog update changes it here too.
CATALOG_SHA256 = "043bdc1a890924057232c036cc6fd71b25404101807d0706a69fc2df89383dda"


def project_model(
    model_id: str,
    pattern: str,
    *,
    project_id: str = "proj-1",
    start_date: datetime | None = None,
    input_price: str = "0.001",
) -> ModelDefinition:
    return ModelDefinition(
        id=model_id,
        model_name=model_id,
        match_pattern=pattern,
        project_id=project_id,
        start_date=start_date,
        pricing_tiers=(
            PricingTier(
                id=f"{model_id}-default",
                name="Standard",
                is_default=True,
                priority=0,
                prices={"input": Decimal(input_price)},
            ),
        ),
    )


def test_catalog_has_every_model_of_the_file(catalog_entries: list[dict[str, Any]]) -> None:
    catalog = builtin_catalog()
    assert len(catalog) == len(catalog_entries) == 167
    assert {m.id for m in catalog} == {e["id"] for e in catalog_entries}
    assert all(m.project_id is None and m.start_date is None for m in catalog)
    assert all(m.default_tier is not None for m in catalog)


def test_bundled_file_is_the_pinned_catalog() -> None:
    assert hashlib.sha256(CATALOG_PATH.read_bytes()).hexdigest() == CATALOG_SHA256


@pytest.mark.parametrize("name", ["gpt-4o", "openai/gpt-4o", "GPT-4O", "OpenAI/Gpt-4o"])
def test_gpt_4o_spellings_match_the_gpt_4o_entry(name: str, catalog_entries: list[dict[str, Any]]) -> None:
    model = match_model(name)
    assert model is not None
    assert model.id == entry_named(catalog_entries, "gpt-4o")["id"]


def test_pattern_is_anchored_so_longer_names_fall_to_their_own_entry(
    catalog_entries: list[dict[str, Any]],
) -> None:
    model = match_model("gpt-4o-mini")
    assert model is not None
    assert model.id == entry_named(catalog_entries, "gpt-4o-mini")["id"]


def test_bedrock_spelling_matches_the_claude_entry(catalog_entries: list[dict[str, Any]]) -> None:
    entry = entry_named(catalog_entries, "claude-sonnet-4-5-20250929")
    name = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert re.search(entry["matchPattern"], name)  # the premise, checked against the file
    model = match_model(name)
    assert model is not None and model.id == entry["id"]


@pytest.mark.parametrize("name", ["my-finetune-7b", "gpt-4o-turbo-ultra", "", None])
def test_unknown_or_missing_model_name_matches_nothing(name: str | None) -> None:
    assert match_model(name) is None


def test_project_model_overrides_builtin() -> None:
    custom = project_model("custom-gpt-4o", r"(?i)^(openai/)?gpt-4o$")
    model = match_model("openai/gpt-4o", [custom])
    assert model is not None
    assert model.id == "custom-gpt-4o"
    assert model.project_id == "proj-1"
    # Names the project model does not cover still reach the catalog.
    other = match_model("gpt-4o-mini", [custom])
    assert other is not None and other.project_id is None


def test_newest_start_date_wins_and_undated_comes_last() -> None:
    undated = project_model("undated", "^acme-llm$")
    old = project_model("old", "^acme-llm$", start_date=datetime(2024, 1, 1, tzinfo=UTC))
    new = project_model("new", "^acme-llm$", start_date=datetime(2025, 6, 1))  # naive = UTC
    found = match_model("acme-llm", [undated, old, new])
    assert found is not None and found.id == "new"
    found = match_model("acme-llm", [undated, old])
    assert found is not None and found.id == "old"


def test_equal_dates_go_to_the_first_listed() -> None:
    first = project_model("first", "^acme-llm$")
    second = project_model("second", "^acme")
    found = match_model("acme-llm", [first, second])
    assert found is not None and found.id == "first"
    found = match_model("acme-llm", [second, first])
    assert found is not None and found.id == "second"


def test_project_pattern_that_python_cannot_compile_is_skipped() -> None:
    broken = project_model("broken", "^(gpt-4o")
    model = match_model("gpt-4o", [broken])
    assert model is not None and model.project_id is None


def test_matcher_prefers_registered_project_models_and_isolates_projects() -> None:
    matcher = ModelMatcher()
    matcher.set_project_models("proj-1", [project_model("custom", "(?i)^gpt-4o$")])
    mine = matcher.match("proj-1", "gpt-4o")
    theirs = matcher.match("proj-2", "gpt-4o")
    assert mine is not None and mine.id == "custom"
    assert theirs is not None and theirs.project_id is None and theirs.model_name == "gpt-4o"


def test_matcher_caches_hits_and_misses() -> None:
    matcher = ModelMatcher()
    first = matcher.match("proj-1", "gpt-4o")
    assert matcher.match("proj-1", "gpt-4o") is first
    assert matcher.match("proj-1", "no-such-model") is None
    assert matcher.match("proj-1", "no-such-model") is None
    # Projects without their own models share one cache key space.
    matcher.set_project_models("proj-9", [])
    assert matcher.has_project("proj-9") and not matcher.has_project("proj-8")
    assert matcher.match("proj-9", "gpt-4o") is first
    assert matcher.match("proj-8", "gpt-4o") is first
    assert len(matcher) == 2


def test_matcher_invalidate_picks_up_changed_project_models() -> None:
    matcher = ModelMatcher()
    matcher.set_project_models("proj-1", [project_model("v1", "^acme$", input_price="1")])
    v1 = matcher.match("proj-1", "acme")
    assert v1 is not None and v1.id == "v1"

    matcher.set_project_models("proj-1", [project_model("v2", "^acme$", input_price="2")])
    v2 = matcher.match("proj-1", "acme")
    assert v2 is not None and v2.id == "v2"

    matcher.invalidate("proj-1")
    assert not matcher.has_project("proj-1")
    assert matcher.match("proj-1", "acme") is None


def test_matcher_invalidate_only_drops_that_project() -> None:
    matcher = ModelMatcher()
    matcher.set_project_models("proj-1", [project_model("a", "^acme$")])
    matcher.set_project_models("proj-2", [project_model("b", "^acme$", project_id="proj-2")])
    matcher.match("proj-1", "acme")
    matcher.match("proj-2", "acme")
    matcher.invalidate("proj-1")
    assert matcher.has_project("proj-2")
    assert len(matcher) == 1
    found = matcher.match("proj-2", "acme")
    assert found is not None and found.id == "b"


def test_matcher_cache_is_bounded_lru() -> None:
    matcher = ModelMatcher(max_entries=2)
    gpt = matcher.match(None, "gpt-4o")
    matcher.match(None, "unknown-1")
    matcher.match(None, "gpt-4o")  # refresh: unknown-1 becomes the oldest
    matcher.match(None, "unknown-2")
    assert len(matcher) == 2
    keys = list(matcher._cache)
    assert keys == [(None, "gpt-4o"), (None, "unknown-2")]
    assert matcher.match(None, "gpt-4o") is gpt


def test_matcher_uses_a_given_catalog() -> None:
    catalog = [m for m in builtin_catalog() if m.model_name != "gpt-4o"]
    matcher = ModelMatcher(catalog)
    assert matcher.match(None, "gpt-4o") is None
    assert matcher.match(None, "gpt-4o-mini") is not None


def test_matcher_skips_uncompilable_project_patterns_and_clear_forgets_all() -> None:
    matcher = ModelMatcher()
    matcher.set_project_models("proj-1", [project_model("broken", "^(acme"), project_model("ok", "^acme$")])
    found = matcher.match("proj-1", "acme")
    assert found is not None and found.id == "ok"
    matcher.clear()
    assert len(matcher) == 0 and not matcher.has_project("proj-1")
    assert matcher.match("proj-1", "acme") is None


def test_matcher_rejects_a_non_positive_size() -> None:
    with pytest.raises(ValueError):
        ModelMatcher(max_entries=0)
