"""Per-version usage of a prompt, from the generations that name it (ClickHouse observations).

Latency is end - start of the generation, tokens come from usage_details (`input`, `output`,
`total`), cost from total_cost; all medians skip generations that lack the value. Scores are
the numeric/boolean scores of the traces those generations belong to.
"""

from __future__ import annotations

from typing import Any

import msgspec

from spyglass.query.reads.values import iso
from spyglass.store.clickhouse.client import ClickHouse


class PromptVersionMetrics(msgspec.Struct, kw_only=True):
    version: int
    generation_count: int = 0
    median_latency_seconds: float | None = None
    median_input_tokens: float | None = None
    median_output_tokens: float | None = None
    median_total_tokens: float | None = None
    median_cost: float | None = None
    total_cost: float = 0.0
    first_generation_at: str | None = None
    last_generation_at: str | None = None
    # score name → {median, count}
    scores: dict[str, dict[str, float]] = {}

    def to_json(self) -> dict[str, Any]:
        return {
            "generationCount": self.generation_count,
            "medianLatencySeconds": self.median_latency_seconds,
            "medianInputTokens": self.median_input_tokens,
            "medianOutputTokens": self.median_output_tokens,
            "medianTotalTokens": self.median_total_tokens,
            "medianCost": self.median_cost,
            "totalCost": self.total_cost,
            "firstGenerationAt": self.first_generation_at,
            "lastGenerationAt": self.last_generation_at,
            "scores": self.scores,
        }


_GENERATIONS = """
    SELECT * FROM (
        SELECT id, trace_id, prompt_version, start_time, end_time, usage_details, total_cost, is_deleted
        FROM observations
        WHERE project_id = {p:String} AND prompt_name = {n:String}
        ORDER BY event_ts DESC LIMIT 1 BY id
    ) WHERE is_deleted = 0 AND prompt_version IS NOT NULL
"""


def _usage(key: str) -> str:
    return f"if(mapContains(usage_details, '{key}'), toFloat64(usage_details['{key}']), NULL)"


_PER_VERSION = f"""
    SELECT toUInt32(prompt_version) AS version,
           count() AS generations,
           quantile(0.5)(if(end_time IS NULL, NULL,
               (toUnixTimestamp64Micro(end_time) - toUnixTimestamp64Micro(start_time)) / 1e6)) AS latency,
           quantile(0.5)({_usage("input")}) AS input_tokens,
           quantile(0.5)({_usage("output")}) AS output_tokens,
           quantile(0.5)({_usage("total")}) AS total_tokens,
           quantile(0.5)(toFloat64(total_cost)) AS cost_median,
           sum(toFloat64(ifNull(total_cost, 0))) AS cost_sum,
           toUnixTimestamp64Micro(min(start_time)) AS first_at,
           toUnixTimestamp64Micro(max(start_time)) AS last_at
    FROM ({_GENERATIONS})
    GROUP BY version
"""

_SCORES = f"""
    WITH gens AS (SELECT DISTINCT toUInt32(prompt_version) AS version, trace_id FROM ({_GENERATIONS}))
    SELECT g.version AS version, s.name AS name, quantile(0.5)(s.value) AS median, count() AS n
    FROM gens AS g
    INNER JOIN (
        SELECT * FROM (
            SELECT id, trace_id, name, value, data_type, is_deleted FROM scores
            WHERE project_id = {{p:String}} AND trace_id IN (SELECT trace_id FROM gens)
            ORDER BY event_ts DESC LIMIT 1 BY id
        ) WHERE is_deleted = 0 AND data_type IN ('NUMERIC', 'BOOLEAN')
    ) AS s ON s.trace_id = g.trace_id
    GROUP BY version, name
"""


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if number != number else number  # quantile of nothing is NaN


async def prompt_version_metrics(ch: ClickHouse, project_id: str, name: str) -> dict[int, PromptVersionMetrics]:
    """version → metrics, for the versions that have at least one linked generation."""
    params = {"p": project_id, "n": name}
    out: dict[int, PromptVersionMetrics] = {}
    for r in await ch.rows(_PER_VERSION, params):
        out[int(r["version"])] = PromptVersionMetrics(
            version=int(r["version"]),
            generation_count=int(r["generations"]),
            median_latency_seconds=_number(r["latency"]),
            median_input_tokens=_number(r["input_tokens"]),
            median_output_tokens=_number(r["output_tokens"]),
            median_total_tokens=_number(r["total_tokens"]),
            median_cost=_number(r["cost_median"]),
            total_cost=_number(r["cost_sum"]) or 0.0,
            first_generation_at=iso(r["first_at"]),
            last_generation_at=iso(r["last_at"]),
        )
    for r in await ch.rows(_SCORES, params):
        metrics = out.get(int(r["version"]))
        if metrics is not None:
            metrics.scores[r["name"]] = {"median": _number(r["median"]) or 0.0, "count": int(r["n"])}
    return out
