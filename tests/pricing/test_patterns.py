"""User patterns match in linear time: one project's pattern cannot stall ingestion for all."""

from __future__ import annotations

import subprocess
import sys

import pytest

from spyglass.collector.pricing.patterns import PatternError, compile_pattern

# Under Python's backtracking `re`, `(a+)+$` against 28 a's and a "!" took ~18 s, and each two
# more characters multiply that by about four: 60 would take longer than the universe is old.
CATASTROPHIC = "(a+)+$"
HOSTILE_NAME = "a" * 60 + "!"


def _run_bounded(code: str, seconds: float = 30.0) -> str:
    """Run `code` in a child interpreter: a backtracking match holds the GIL, so only a process
    boundary lets the test end (and fail) instead of hanging with it."""
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=seconds)
    except subprocess.TimeoutExpired:
        pytest.fail(f"matching did not finish within {seconds} s: not linear time")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_catastrophic_model_pattern_is_matched_in_linear_time() -> None:
    out = _run_bounded(
        f"""
from decimal import Decimal
from spyglass.collector.pricing import ModelDefinition, ModelMatcher, PricingTier
tier = PricingTier(id="t", name="Standard", is_default=True, priority=0, prices={{"input": Decimal("1")}})
hostile = ModelDefinition(id="hostile", model_name="hostile", match_pattern={CATASTROPHIC!r},
                          project_id="p", pricing_tiers=(tier,))
matcher = ModelMatcher()
matcher.set_project_models("p", [hostile])
miss = matcher.match("p", {HOSTILE_NAME!r})
hit = matcher.match("p", "aaaa")
print(getattr(miss, "id", None), getattr(hit, "id", None))
"""
    )
    assert out.split()[1] == "hostile"  # the pattern still works
    assert out.split()[0] != "hostile"


def test_a_catastrophic_usage_pattern_is_matched_in_linear_time() -> None:
    out = _run_bounded(
        f"""
from spyglass.collector.pricing.checks import UsageCheck
from spyglass.collector.pricing.definitions import UsageCondition
check = UsageCheck(UsageCondition(usage_detail_pattern={CATASTROPHIC!r}, operator="gt", value=0))
print(check({{{HOSTILE_NAME!r}: 5, "aaa": 1}}, None, None))
"""
    )
    assert out == "True"  # "aaa" matches; the hostile key is rejected quickly


def test_case_insensitive_option_and_inline_flags() -> None:
    assert compile_pattern("^gpt-4o$", ignore_case=True).search("GPT-4O") is not None
    assert compile_pattern("^gpt-4o$").search("GPT-4O") is None
    assert compile_pattern("(?i)^(openai/)?gpt-4o$").search("OpenAI/GPT-4o") is not None


@pytest.mark.parametrize("pattern", [r"^(a)\1$", "(?<=a)b", "(unclosed"])
def test_what_re2_cannot_compile_is_a_pattern_error_with_a_reason(pattern: str) -> None:
    with pytest.raises(PatternError) as caught:
        compile_pattern(pattern)
    assert str(caught.value)
