"""Throughput of model matching + cost computation on a realistic generation mix.

    .venv/bin/python bench/bench_pricing.py [N]

The mix: mostly well-known built-in names in their various spellings, some project-defined
models, repeated unknown names (cached misses) and 1% never-seen names (full catalog scans),
with OpenAI chat/responses, Anthropic and legacy usage shapes, a few service tiers and a few
client-provided costs. Three figures are printed:
  match+cost   — ModelMatcher.match + compute_cost on pre-normalised usage (the brief's figure)
  full         — the same plus usage/cost normalisation from the raw client payload
  match-miss   — uncached catalog scan for an unknown name (what a never-seen name costs)
"""

from __future__ import annotations

import argparse
import random
import time
from decimal import Decimal
from typing import Any

from spyglass.collector.pricing import (
    ModelDefinition,
    ModelMatcher,
    PricingTier,
    builtin_catalog,
    compute_cost,
    match_model,
    provided_usage,
    usage_with_total,
)

KNOWN_NAMES = [
    "gpt-4o",
    "openai/gpt-4o",
    "gpt-4o-mini",
    "gpt-4o-2024-08-06",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-5",
    "gpt-5-mini",
    "o3",
    "o4-mini",
    "claude-sonnet-4-5-20250929",
    "anthropic/claude-sonnet-4-5",
    "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "claude-3-5-haiku-20241022",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "text-embedding-3-small",
]
UNKNOWN_NAMES = ["llama-3.1-70b-instruct", "mistral-large-latest", "my-finetune-v7", "qwen2.5-72b"]
PROJECTS = [f"proj-{i}" for i in range(20)]


def _payload(rng: random.Random) -> dict[str, Any]:
    shape = rng.random()
    prompt = rng.randint(50, 300_000 if rng.random() < 0.05 else 8_000)
    completion = rng.randint(1, 2_000)
    if shape < 0.5:
        usage_details: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": prompt // 3, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": completion // 4},
        }
        usage = None
    elif shape < 0.7:
        usage_details = {
            "input_tokens": prompt,
            "output_tokens": completion,
            "total_tokens": prompt + completion,
            "input_tokens_details": {"cached_tokens": prompt // 2},
            "output_tokens_details": {"reasoning_tokens": 0},
        }
        usage = None
    elif shape < 0.85:
        usage_details = {
            "input_tokens": prompt,
            "output_tokens": completion,
            "cache_read_input_tokens": prompt * 2,
            "cache_creation_input_tokens": 0,
        }
        usage = None
    else:
        usage_details = None
        usage = {"input": prompt, "output": completion, "unit": "TOKENS"}
    cost_details = {"total": round(rng.random() / 100, 6)} if rng.random() < 0.05 else None
    roll = rng.random()
    params = {"temperature": 0.2}
    if roll < 0.1:
        params["service_tier"] = rng.choice(["priority", "flex", "default"])
    return {"usage": usage, "usageDetails": usage_details, "costDetails": cost_details, "params": params}


def _project_model(project_id: str) -> ModelDefinition:
    return ModelDefinition(
        id=f"{project_id}-house",
        model_name="house-model",
        match_pattern=r"(?i)^(acme/)?house-model(-v\d+)?$",
        project_id=project_id,
        pricing_tiers=(
            PricingTier(
                id=f"{project_id}-house-default",
                name="Standard",
                is_default=True,
                priority=0,
                prices={"input": Decimal("0.000001"), "output": Decimal("0.000004")},
            ),
        ),
    )


def _workload(n: int, rng: random.Random) -> list[tuple[str, str, dict[str, Any]]]:
    items = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.80:
            name = rng.choice(KNOWN_NAMES)
        elif roll < 0.90:
            name = rng.choice(["house-model", "acme/house-model-v2"])
        elif roll < 0.99:
            name = rng.choice(UNKNOWN_NAMES)
        else:
            name = f"never-seen-{i}"
        items.append((rng.choice(PROJECTS), name, _payload(rng)))
    return items


def main() -> None:
    ap = argparse.ArgumentParser(description="Throughput of usage normalization, model matching and cost.")
    ap.add_argument("n", nargs="?", type=int, default=100_000, help="observations to price")
    n = ap.parse_args().n
    rng = random.Random(7)

    started = time.perf_counter()
    builtin_catalog()
    print(f"catalog load+compile: {(time.perf_counter() - started) * 1000:.1f} ms")

    items = _workload(n, rng)
    prepared = []
    for project_id, name, payload in items:
        provided = provided_usage(payload["usage"], payload["usageDetails"], payload["costDetails"])
        prepared.append(
            (
                project_id,
                name,
                usage_with_total(provided.usage_details),
                provided.cost_details,
                payload["params"],
            )
        )

    matcher = ModelMatcher()
    for project_id in PROJECTS[:5]:
        matcher.set_project_models(project_id, [_project_model(project_id)])

    started = time.perf_counter()
    priced = 0
    for project_id, name, usage, provided_cost, params in prepared:
        result = compute_cost(usage, provided_cost, matcher.match(project_id, name), params)
        priced += result.total_cost is not None
    elapsed = time.perf_counter() - started
    print(f"match+cost:  {n / elapsed:>10,.0f} ops/s  ({elapsed / n * 1e6:.2f} µs/op, {priced} priced)")

    matcher = ModelMatcher()
    for project_id in PROJECTS[:5]:
        matcher.set_project_models(project_id, [_project_model(project_id)])
    started = time.perf_counter()
    for project_id, name, payload in items:
        provided = provided_usage(payload["usage"], payload["usageDetails"], payload["costDetails"])
        usage = usage_with_total(provided.usage_details)
        compute_cost(usage, provided.cost_details, matcher.match(project_id, name), payload["params"])
    elapsed = time.perf_counter() - started
    print(f"full:        {n / elapsed:>10,.0f} ops/s  ({elapsed / n * 1e6:.2f} µs/op)")

    misses = 2_000
    started = time.perf_counter()
    for i in range(misses):
        match_model(f"never-seen-{i}")
    elapsed = time.perf_counter() - started
    print(f"match-miss:  {misses / elapsed:>10,.0f} ops/s  ({elapsed / misses * 1e6:.2f} µs/op, uncached)")


if __name__ == "__main__":
    main()
