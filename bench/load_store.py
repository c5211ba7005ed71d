"""Load a realistic observability data set straight into a Spyglass data dir (no HTTP):
1M traces with 10 observations each over 30 days, a few hundred users and sessions, scores on
20 % of traces. Then `bench/bench_read.py` measures the public API on it.

    .venv/bin/python bench/load_store.py --data-dir /tmp/sg10m-t --traces 1000000

The data is written the way ingestion produces it: in time order (each insert chunk covers the
next few hours of the 30 days, its traces a few seconds apart) with random trace and
observation ids, as SDKs and OTel exporters generate them. Time order shapes the parts reads
meet: the tables are ordered by day within a project, so parts written in time order cover
narrow key ranges, and `FINAL` reads ranges no other part intersects without merging them. An
earlier version spread random timestamps over the whole month in every chunk: every part then
spanned all 30 days and every range intersected — a store no real ingestion produces. Random ids
keep the one realistic overlap (parts written within the same day intersect there until
background merges join them) and the realistic cost of reading and comparing ids, which
sequential ids understated (bench/RESULTS.md has both stores measured).

Writes a project and key pair into the data dir's PostgreSQL and prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time

from spyglass.cli.runtime import load_or_create_secrets
from spyglass.cli.settings import load_settings
from spyglass.collector.worker.encode import json_each_row
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.migrate import migrate
from spyglass.store.clickhouse.rows import ObservationRow, ScoreRow, TraceRow
from spyglass.store.postgres.api_keys import ApiKeys
from spyglass.store.postgres.database import PostgresStore
from spyglass.store.postgres.tenancy import Tenancy

MODELS = [("gpt-4o", 2.5e-6, 1e-5), ("gpt-4o-mini", 1.5e-7, 6e-7), ("claude-3-5-sonnet-20241022", 3e-6, 1.5e-5)]
NAMES = ["chat", "rag-query", "summarize", "classify", "agent-run"]
TYPES = ["SPAN", "GENERATION", "SPAN", "GENERATION", "TOOL", "SPAN", "GENERATION", "RETRIEVER", "SPAN", "EVENT"]


def build(rng: random.Random, pid: str, start: int, count: int, t0: float, step: float, io: str) -> tuple:
    """Traces start..start+count, trace n at about t0 + n * step (a jitter of one step keeps
    neighbours interleaved, as concurrent requests are)."""
    traces, observations, scores = [], [], []
    for n in range(start, start + count):
        tid = f"{rng.getrandbits(128):032x}"
        ts = t0 + (n + rng.random()) * step
        user = f"user-{rng.randrange(300)}"
        session = f"session-{rng.randrange(400)}"
        name = rng.choice(NAMES)
        tags = rng.sample(["prod", "beta", "eu", "us", "mobile", "web"], 2)
        traces.append(
            TraceRow(
                id=tid,
                project_id=pid,
                timestamp=ts,
                name=name,
                user_id=user,
                session_id=session,
                release="1.4.0",
                version="v3",
                environment="production",
                metadata={"tenant": "acme"},
                tags=sorted(tags),
                input=io,
                output=io[:200],
                created_at=ts,
                updated_at=ts,
                event_ts=ts,
            )
        )
        parent = None
        for i in range(10):
            oid = f"{rng.getrandbits(64):016x}"
            st = ts + i * 0.05
            typ = TYPES[i]
            row = ObservationRow(
                id=oid,
                trace_id=tid,
                project_id=pid,
                type=typ,
                parent_observation_id=parent,
                environment="production",
                start_time=st,
                end_time=st + rng.random() * 3,
                name=f"{name}-{i}",
                metadata={"step": str(i)},
                input=io if typ == "GENERATION" else '{"q":"short"}',
                output=io[:500] if typ == "GENERATION" else '"ok"',
                created_at=st,
                updated_at=st,
                event_ts=st,
            )
            if typ == "GENERATION":
                model, pin, pout = rng.choice(MODELS)
                usage_in, usage_out = rng.randint(200, 4000), rng.randint(20, 800)
                cost = {"input": usage_in * pin, "output": usage_out * pout}
                cost["total"] = cost["input"] + cost["output"]
                row.provided_model_name = model
                row.usage_details = {"input": usage_in, "output": usage_out, "total": usage_in + usage_out}
                row.cost_details = cost
                row.total_cost = cost["total"]
                row.completion_start_time = st + 0.3
            observations.append(row)
            if parent is None:
                parent = oid
        if rng.random() < 0.2:
            scores.append(
                ScoreRow(
                    id=f"{rng.getrandbits(128):032x}",
                    project_id=pid,
                    timestamp=ts + 5,
                    name="quality",
                    value=rng.random(),
                    trace_id=tid,
                    environment="production",
                    created_at=ts,
                    updated_at=ts,
                    event_ts=ts + 5,
                )
            )
    return traces, observations, scores


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--traces", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--chunk", type=int, default=5000)
    ap.add_argument("--optimize", action="store_true", help="merge all parts at the end (slow on 10M rows)")
    args = ap.parse_args()
    settings = load_settings(env={"SPYGLASS_DATA_DIR": args.data_dir})
    secrets = load_or_create_secrets(settings.data_dir, settings.salt)
    pg = await PostgresStore.open(settings.postgres)
    tenancy = Tenancy(pg.pool)
    org = await tenancy.create_organization(f"bench-{time.time_ns()}")
    project = await tenancy.create_project(org.id, "bench")
    key = await ApiKeys(pg.pool, secrets.salt).create_key(project.id)
    await pg.close()
    ch = ClickHouse(settings.clickhouse)
    await ch.open()
    await migrate(ch)
    rng = random.Random(42)
    io = json.dumps([{"role": "user", "content": "x" * 1200}])
    t0 = time.time() - args.days * 86400
    step = args.days * 86400 / args.traces  # seconds between consecutive traces
    began = time.monotonic()
    for start in range(0, args.traces, args.chunk):
        traces, observations, scores = build(rng, project.id, start, min(args.chunk, args.traces - start), t0, step, io)
        await ch.insert_json("traces", json_each_row(traces))
        await ch.insert_json("observations", json_each_row(observations))
        if scores:
            await ch.insert_json("scores", json_each_row(scores))
        done = start + len(traces)
        if done % 50_000 == 0:
            rate = done * 10 / (time.monotonic() - began)
            print(f"{done:,} traces, {done * 10:,} observations ({rate:,.0f} obs/s)", flush=True)
    if args.optimize:
        print("optimizing (merging parts) ...", flush=True)
        for table in ("traces", "observations", "scores"):
            await ch.command(f"OPTIMIZE TABLE {table} FINAL")
    await ch.close()
    print(f"loaded in {time.monotonic() - began:.0f} s into {settings.data_dir}")
    print(f"LANGFUSE_PUBLIC_KEY={key.public_key}\nLANGFUSE_SECRET_KEY={key.secret_key}\nproject={project.id}")


if __name__ == "__main__":
    asyncio.run(main())
