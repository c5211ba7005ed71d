"""A realistic, seeded set of traces, observations and scores for one project, written straight
to ClickHouse, plus the current state of each row so tests can compute expected metrics.

Times are whole milliseconds (so millisecond latencies are exact). Some rows have older
versions or tombstones, and some lie outside the query window, so the API must deduplicate,
drop deletions and respect the time range to match the expectations.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

import msgspec

from spyglass.collector.worker.encode import json_each_row
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.rows import ObservationRow, ScoreRow, TraceRow

BASE_MS = int(datetime(2025, 3, 10, tzinfo=UTC).timestamp() * 1000)
DAY_MS = 86_400_000
FROM = "2025-03-10T00:00:00Z"
TO = "2025-03-14T00:00:00Z"
# Days (from BASE) that get traces; 2025-03-12 stays empty so time series must fill it.
ACTIVE_DAYS = (0, 1, 3)

NAMES = ("chat", "rag", "agent")
USERS = ("u1", "u2", "u3", None)
ENVS = ("production", "staging")
MODELS = ("gpt-4o", "claude-3", "llama")
PRICES = {"gpt-4o": (2.5e-6, 1e-5), "claude-3": (3e-6, 1.5e-5), "llama": (2e-7, 2e-7)}
TOOLS = ("search", "calc", "weather")


def sec(ms: int) -> float:
    return ms / 1000


@dataclass
class Obs:
    row: ObservationRow
    start_ms: int
    end_ms: int | None
    first_token_ms: int | None


@dataclass
class Dataset:
    project_id: str
    traces: dict[str, TraceRow] = field(default_factory=dict)
    observations: dict[str, Obs] = field(default_factory=dict)
    scores: dict[str, ScoreRow] = field(default_factory=dict)
    trace_ms: dict[str, int] = field(default_factory=dict)
    # Every row version to insert (older versions and tombstones included).
    trace_rows: list[TraceRow] = field(default_factory=list)
    observation_rows: list[ObservationRow] = field(default_factory=list)
    score_rows: list[ScoreRow] = field(default_factory=list)

    def in_range(self, ms: int) -> bool:
        return BASE_MS <= ms <= BASE_MS + 4 * DAY_MS

    # -- current rows inside the query window ---------------------------------------------

    def live_traces(self) -> list[TraceRow]:
        return [t for t in self.traces.values() if self.in_range(self.trace_ms[t.id])]

    def live_observations(self) -> list[Obs]:
        return [o for o in self.observations.values() if self.in_range(o.start_ms)]

    def live_scores(self) -> list[ScoreRow]:
        return [s for s in self.scores.values() if self.in_range(round(s.timestamp * 1000))]

    def observations_of(self, trace_id: str) -> list[Obs]:
        return [o for o in self.observations.values() if o.row.trace_id == trace_id]

    def scores_of_trace(self, trace_id: str) -> list[ScoreRow]:
        return [s for s in self.scores.values() if s.trace_id == trace_id]

    def scores_of_observation(self, observation_id: str) -> list[ScoreRow]:
        return [s for s in self.scores.values() if s.observation_id == observation_id]


def _usage(rng: random.Random, model: str) -> tuple[dict[str, int], dict[str, float], float]:
    prompt, completion = rng.randint(10, 4000), rng.randint(1, 800)
    usage = {"input": prompt, "output": completion}
    if rng.random() < 0.3:
        usage["input_cached_tokens"] = rng.randint(1, 500)
    usage["total"] = sum(usage.values())
    p_in, p_out = PRICES[model]
    costs = {"input": round(prompt * p_in, 9), "output": round(completion * p_out, 9)}
    if "input_cached_tokens" in usage:
        costs["input_cached_tokens"] = round(usage["input_cached_tokens"] * p_in / 2, 9)
    total = round(sum(costs.values()), 9)
    costs["total"] = total
    return usage, costs, total


def _tools(rng: random.Random) -> dict[str, object]:
    """The tool columns of a generation as ingestion fills them: some offered tools, and calls
    of them (a tool may be called twice); none at all for some generations."""
    if rng.random() < 0.3:
        return {}
    offered = rng.sample(TOOLS, rng.randint(1, len(TOOLS)))
    called = [rng.choice(offered) for _ in range(rng.randint(0, 3))]
    return {
        "tool_definitions": {
            name: msgspec.json.encode({"description": name, "parameters": "{}"}).decode() for name in offered
        },
        "tool_calls": [
            msgspec.json.encode({"id": f"call_{k}", "arguments": "{}", "type": "function", "index": k}).decode()
            for k in range(len(called))
        ],
        "tool_call_names": called,
    }


def build(project_id: str, seed: int, n_traces: int = 48) -> Dataset:
    rng = random.Random(seed)
    # A stream of its own, so the tool columns leave every other value as it was.
    tool_rng = random.Random(seed + 1)
    ds = Dataset(project_id)
    for i in range(n_traces):
        trace_id = f"trace-{i:03d}"
        if i == n_traces - 2:
            ts = BASE_MS - 2 * DAY_MS + rng.randint(0, DAY_MS)  # before the window
        elif i == n_traces - 1:
            ts = BASE_MS + 5 * DAY_MS + rng.randint(0, DAY_MS)  # after it
        else:
            ts = BASE_MS + ACTIVE_DAYS[i % len(ACTIVE_DAYS)] * DAY_MS + rng.randint(0, DAY_MS - 60_000)
        trace = TraceRow(
            id=trace_id,
            project_id=project_id,
            timestamp=sec(ts),
            name=rng.choice(NAMES),
            user_id=rng.choice(USERS),
            session_id=rng.choice(("s1", "s2", None)),
            release=rng.choice(("r1", "r2", None)),
            version=rng.choice(("v1", None)),
            environment=rng.choice(ENVS),
            tags=sorted(rng.sample(["a", "b", "c"], rng.randint(0, 2))),
            metadata={"tier": rng.choice(("gold", "free")), "n": str(rng.randint(1, 20))},
            event_ts=1.0,
        )
        ds.trace_ms[trace_id] = ts
        ds.traces[trace_id] = trace
        ds.trace_rows.append(trace)

        root_id: str | None = None
        cursor = ts
        for j in range(rng.randint(0, 4)):
            obs_id = f"obs-{i:03d}-{j}"
            start = cursor + rng.randint(0, 1500)
            kind = "SPAN" if j == 0 else rng.choice(("GENERATION", "GENERATION", "EVENT", "SPAN"))
            duration = rng.randint(20, 6000)
            end: int | None = None if kind == "EVENT" else start + duration
            first_token: int | None = None
            row_kwargs: dict[str, object] = {}
            if kind == "GENERATION":
                model = rng.choice(MODELS)
                usage, costs, total = _usage(rng, model)
                if rng.random() < 0.7 and end is not None:
                    first_token = start + rng.randint(0, end - start)
                row_kwargs = {
                    "provided_model_name": model,
                    "usage_details": usage,
                    "provided_usage_details": usage,
                    "cost_details": costs,
                    "total_cost": total,
                    **_tools(tool_rng),
                }
                if rng.random() < 0.4:
                    row_kwargs["prompt_name"] = "qa-prompt"
                    row_kwargs["prompt_version"] = rng.choice((1, 2))
            obs = ObservationRow(
                id=obs_id,
                trace_id=trace_id,
                project_id=project_id,
                type=kind,
                parent_observation_id=root_id,
                environment=trace.environment,
                start_time=sec(start),
                end_time=sec(end) if end is not None else None,
                completion_start_time=sec(first_token) if first_token is not None else None,
                name=rng.choice(("llm-call", "retrieve", "tool")) if j else "root",
                level=rng.choice(("DEFAULT", "DEFAULT", "WARNING", "ERROR")),
                metadata={"step": str(j)},
                event_ts=1.0,
                **row_kwargs,  # type: ignore[arg-type]
            )
            if j == 0:
                root_id = obs_id
            ds.observations[obs_id] = Obs(obs, start, end, first_token)
            ds.observation_rows.append(obs)
            cursor = start

        for name, kind in (("quality", "NUMERIC"), ("ok", "BOOLEAN"), ("verdict", "CATEGORICAL")):
            if rng.random() < 0.55:
                continue
            gens = [o for o in ds.observations_of(trace_id) if o.row.type == "GENERATION"]
            target = rng.choice(gens).row.id if gens and rng.random() < 0.5 else None
            score = ScoreRow(
                id=f"score-{i:03d}-{name}",
                project_id=project_id,
                timestamp=sec(ts + rng.randint(0, 5000)),
                name=name,
                value={"NUMERIC": round(rng.random(), 3), "BOOLEAN": float(rng.randint(0, 1))}.get(kind, 0.0),
                string_value=rng.choice(("good", "bad", "meh")) if kind == "CATEGORICAL" else None,
                data_type=kind,
                trace_id=trace_id,
                observation_id=target,
                environment=trace.environment,
                source=rng.choice(("API", "ANNOTATION", "EVAL")),
                event_ts=1.0,
            )
            ds.scores[score.id] = score
            ds.score_rows.append(score)

    _versions(ds)
    return ds


def _versions(ds: Dataset) -> None:
    """Rewrite, delete and add a few rows the way later events would."""
    # trace-000 is renamed by a later event.
    t0 = ds.traces["trace-000"]
    renamed = msgspec.structs.replace(t0, name="renamed", event_ts=2.0)
    ds.traces[t0.id] = renamed
    ds.trace_rows.append(renamed)
    # trace-001 is deleted, with its observations and scores.
    t1 = ds.traces.pop("trace-001")
    ds.trace_rows.append(msgspec.structs.replace(t1, event_ts=3.0, is_deleted=1))
    for obs in ds.observations_of("trace-001"):
        del ds.observations[obs.row.id]
        ds.observation_rows.append(msgspec.structs.replace(obs.row, event_ts=3.0, is_deleted=1))
    for score in ds.scores_of_trace("trace-001"):
        del ds.scores[score.id]
        ds.score_rows.append(msgspec.structs.replace(score, event_ts=3.0, is_deleted=1))
    # The first generation's model is corrected by a later update.
    gen = next(o for o in ds.observations.values() if o.row.type == "GENERATION")
    fixed = msgspec.structs.replace(gen.row, provided_model_name="llama", event_ts=2.0)
    gen.row = fixed
    ds.observation_rows.append(fixed)
    # A session score (no trace) and a free-text score.
    for score in (
        ScoreRow(
            id="score-session",
            project_id=ds.project_id,
            timestamp=sec(BASE_MS + 3_600_000),
            name="quality",
            value=0.5,
            session_id="s9",
            event_ts=1.0,
        ),
        ScoreRow(
            id="score-text",
            project_id=ds.project_id,
            timestamp=sec(BASE_MS + 3_600_000),
            name="note",
            value=0.0,
            data_type="TEXT",
            string_value="free text",
            trace_id="trace-002",
            event_ts=1.0,
        ),
    ):
        ds.scores[score.id] = score
        ds.score_rows.append(score)


async def insert(ch: ClickHouse, ds: Dataset) -> None:
    await ch.insert_json("traces", json_each_row(ds.trace_rows))
    await ch.insert_json("observations", json_each_row(ds.observation_rows))
    await ch.insert_json("scores", json_each_row(ds.score_rows))


def quantile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (what ClickHouse's quantile does exactly on
    small inputs)."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)
