"""Read-path latency at volume, in process: the query functions behind each read endpoint on chDB,
without the HTTP server in between (bench_read.py times the served API on a loaded store).

    .venv/bin/python bench/bench_read_queries.py --traces 100000 --per-trace 10 --dir /tmp/bench-ch

Loads one project with `traces × per-trace` observations (plus a second, noisy project of the
same size, so tenancy filters have something to skip) into a scratch chDB directory, then times
the queries behind each endpoint (median of several warm runs). Reuses the data when the
directory already holds it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from spyglass.collector.worker.encode import json_each_row
from spyglass.query.reads import observations, scores, sessions, traces
from spyglass.query.reads.params import Page
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.migrate import migrate
from spyglass.store.clickhouse.rows import ObservationRow, ScoreRow, TraceRow
from spyglass.store.config import ClickHouseConfig

PROJECT = "bench-project"
NOISE = "bench-noise"
DAYS = 30


async def load(ch: ClickHouse, project: str, n_traces: int, per_trace: int, seed: int, text_bytes: int) -> None:
    rng = random.Random(seed)
    end = time.time()
    start = end - DAYS * 86400
    batch_t: list[TraceRow] = []
    batch_o: list[ObservationRow] = []
    batch_s: list[ScoreRow] = []

    async def flush() -> None:
        if batch_t:
            await ch.insert_json("traces", json_each_row(batch_t))
        if batch_o:
            await ch.insert_json("observations", json_each_row(batch_o))
        if batch_s:
            await ch.insert_json("scores", json_each_row(batch_s))
        batch_t.clear()
        batch_o.clear()
        batch_s.clear()

    text = ("lorem ipsum dolor sit amet " * (text_bytes // 27 + 1))[:text_bytes]
    for i in range(n_traces):
        ts = start + (end - start) * i / n_traces
        tid = f"{project}-t{i:08d}"
        batch_t.append(
            TraceRow(
                id=tid,
                project_id=project,
                timestamp=ts,
                name=rng.choice(["chat", "search", "agent"]),
                user_id=f"user-{rng.randrange(5000)}",
                session_id=f"sess-{i // 5}",
                tags=rng.sample(["a", "b", "c", "d"], 2),
                input=text,
                output=text[: text_bytes // 2],
                created_at=ts,
                updated_at=ts,
                event_ts=ts,
            )
        )
        parent = None
        for j in range(per_trace):
            s = ts + j * 0.2
            oid = f"{tid}-o{j}"
            gen = j % 3 == 1
            batch_o.append(
                ObservationRow(
                    id=oid,
                    trace_id=tid,
                    project_id=project,
                    type="GENERATION" if gen else "SPAN",
                    parent_observation_id=parent,
                    start_time=s,
                    end_time=s + rng.random(),
                    name=f"step-{j}",
                    input=text,
                    output=text[: text_bytes // 2],
                    provided_model_name="gpt-4o" if gen else None,
                    usage_details={"input": 100, "output": 20, "total": 120} if gen else {},
                    cost_details={"total": 0.001} if gen else {},
                    total_cost=0.001 if gen else None,
                    created_at=s,
                    updated_at=s,
                    event_ts=s,
                )
            )
            parent = parent or oid
        if i % 2 == 0:
            batch_s.append(
                ScoreRow(
                    id=f"{tid}-s",
                    project_id=project,
                    timestamp=ts + 5,
                    name="quality",
                    value=rng.random(),
                    trace_id=tid,
                    created_at=ts,
                    updated_at=ts,
                    event_ts=ts + 5,
                )
            )
        if len(batch_o) >= 200_000:
            await flush()
    await flush()


async def timed(label: str, fn: Callable[[], Awaitable[Any]], runs: int = 7) -> None:
    await fn()  # warm
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - t0) * 1000)
    print(f"{label:<48} median {statistics.median(samples):7.1f} ms   max {max(samples):7.1f} ms")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("--per-trace", type=int, default=10)
    ap.add_argument("--dir", default="/tmp/spyglass-bench-ch")
    ap.add_argument("--noise-traces", type=int, default=None, help="second project's size (default: same)")
    ap.add_argument("--text-bytes", type=int, default=1000, help="input size per row (output is half)")
    args = ap.parse_args()
    ch = ClickHouse(ClickHouseConfig(url=f"chdb://{args.dir}", max_memory_bytes=8_000_000_000))
    await ch.open()
    await migrate(ch)
    have = await ch.scalar("SELECT count() FROM traces WHERE project_id = {p:String}", {"p": PROJECT})
    if have != args.traces:
        for table in ("traces", "observations", "scores"):
            await ch.command(f"TRUNCATE TABLE {table}")
        t0 = time.perf_counter()
        noise = args.traces if args.noise_traces is None else args.noise_traces
        await load(ch, PROJECT, args.traces, args.per_trace, 1, args.text_bytes)
        await load(ch, NOISE, noise, args.per_trace, 2, args.text_bytes)
        print(f"loaded {args.traces} + {noise} traces, {args.per_trace} obs each in {time.perf_counter() - t0:.0f}s")
        await ch.command("OPTIMIZE TABLE observations FINAL")
        await ch.command("OPTIMIZE TABLE traces FINAL")
    obs_total = await ch.scalar("SELECT count() FROM observations")
    print(f"observations in table: {obs_total:,}")

    page = Page(page=1, limit=50)
    recent = (
        await traces.page_ids(ch, traces.select_from_query(PROJECT, **_no_filters()), page, ("timestamp", "DESC"))
    )[0]
    tid = recent[0]["id"]

    async def trace_list() -> None:
        sel = traces.select_from_query(PROJECT, **_no_filters())
        picked, _ = await traces.page_ids(ch, sel, page, ("timestamp", "DESC"))
        ids = [r["id"] for r in picked]
        since = min(int(r["ts_us"]) for r in picked)
        await asyncio.gather(
            traces.rows_for(ch, PROJECT, picked),
            traces.observation_stats(ch, PROJECT, ids, since),
            traces.score_ids(ch, PROJECT, ids, since),
        )

    async def trace_list_user() -> None:
        sel = traces.select_from_query(PROJECT, **{**_no_filters(), "user_id": "user-42"})
        await traces.page_ids(ch, sel, page, ("timestamp", "DESC"))

    async def trace_list_window() -> None:
        start = datetime.now(UTC) - timedelta(days=1)
        sel = traces.select_from_query(PROJECT, **{**_no_filters(), "start": start})
        await traces.page_ids(ch, sel, page, ("timestamp", "DESC"))

    async def trace_detail() -> None:
        row, _, _ = await asyncio.gather(
            traces.get_one(ch, PROJECT, tid),
            observations.for_trace(ch, PROJECT, tid),
            scores.for_trace(ch, PROJECT, tid),
        )
        assert row is not None

    async def obs_v2() -> None:
        sel = observations.select_from_query(PROJECT, filter_raw=None)
        await observations.page_v2(ch, sel, 50, None)

    async def obs_v2_trace() -> None:
        sel = observations.select_from_query(PROJECT, filter_raw=None, trace_id=tid)
        await observations.page_v2(ch, sel, 50, None)

    async def obs_v1() -> None:
        sel = observations.select_from_query(PROJECT, filter_raw=None)
        await observations.page_v1(ch, sel, page)

    async def score_list() -> None:
        await scores.page(ch, scores.selection(PROJECT), page)

    async def session_list() -> None:
        await sessions.page(ch, PROJECT, page, start=None, end=None, environments=[])

    await timed("trace list, first page (ids+count, rows, aggs)", trace_list)
    await timed("trace list, userId filter (ids+count)", trace_list_user)
    await timed("trace list, last 24h (ids+count)", trace_list_window)
    await timed("trace detail (trace, observations, scores)", trace_detail)
    await timed("v2 observations, first page", obs_v2)
    await timed("v2 observations of one trace", obs_v2_trace)
    await timed("v1 observations, first page (+count)", obs_v1)
    await timed("v2 scores, first page (+count)", score_list)
    await timed("sessions, first page (+count)", session_list)
    await ch.close()


def _no_filters() -> dict[str, Any]:
    return {
        "user_id": None,
        "name": None,
        "session_id": None,
        "tags": [],
        "version": None,
        "release": None,
        "environments": [],
        "start": None,
        "end": None,
        "filter_raw": None,
    }


if __name__ == "__main__":
    asyncio.run(main())
