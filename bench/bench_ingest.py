"""Issue 3 targets: sustained OTLP ingest until queryable through the public API, accept latency
and ingest-to-visible latency at 1,000 spans/s, peak RSS, and the legacy ingestion rate.

    .venv/bin/python bench/bench_ingest.py --spans 100000            # throughput
    .venv/bin/python bench/bench_ingest.py --rate 1000 --seconds 60  # latency at a fixed rate
    .venv/bin/python bench/bench_ingest.py --legacy --spans 20000    # /api/public/ingestion
    # generations without usage (counted from their text), against an earlier commit, alternating:
    git worktree add --detach /tmp/before HEAD
    .venv/bin/python bench/bench_ingest.py --spans 50000 --no-usage --baseline /tmp/before --repeat 3

Starts its own `spyglass serve` in a temporary data dir (the embedded default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import psutil
from _server import FloorServer, HostCpu, PeakRss, Server
from spans import Generator


def helper_cpu_seconds(server: Server) -> dict[str, float]:
    """CPU of the server's child processes by kind: the mapping processes and PostgreSQL."""
    out = {"mapping": 0.0, "postgres": 0.0}
    for child in server.process.children(recursive=True):
        try:
            t = child.cpu_times()
            kind = "postgres" if "postgres" in child.name() else "mapping"
        except psutil.Error:
            continue
        out[kind] += t.user + t.system
    return out


def all_cpu_seconds(server: Server) -> float:
    """CPU of the serving process plus its mapping processes and PostgreSQL."""
    return server.cpu_seconds() + sum(helper_cpu_seconds(server).values())


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def visible_observations(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(f"{url}/api/public/observations", params={"limit": "1"}) as r:
        r.raise_for_status()
        return int((await r.json())["meta"]["totalItems"])


POLL_SECONDS = 0.25


async def post_otlp(http: aiohttp.ClientSession, url: str, body: bytes) -> float | None:
    """POST one gzip'd OTLP request: None once accepted, the Retry-After seconds of a 429; any
    other error raises."""
    async with http.post(
        f"{url}/api/public/otel/v1/traces",
        data=body,
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
    ) as r:
        await r.read()
        if r.status == 429:
            return float(r.headers.get("Retry-After", "1"))
        r.raise_for_status()
    return None


async def wait_visible(http: aiohttp.ClientSession, url: str, base: int, target: int, adaptive: bool) -> int:
    """Poll the observation count until `target`; returns the number of polls.

    Each poll counts every observation (~90 ms of server CPU at 100k rows), so polling every
    0.25 s from the first accepted request costs the server ~15 % of its CPU during the run.
    `adaptive` polls every 0.25 s only near the end: from the rate the count grows at, it
    sleeps until ~0.5 s before the count should reach the target (at most 2 s at a time)."""
    seen, polls = base, 0
    last: tuple[float, int] | None = None
    while seen < target:
        wait = POLL_SECONDS
        if adaptive and last is not None:
            now = time.perf_counter()
            rate = (seen - last[1]) / max(now - last[0], 1e-3)
            if rate > 0:
                wait = min(max((target - seen) / rate - 0.5, POLL_SECONDS), 2.0)
        if adaptive:
            last = (time.perf_counter(), seen)
        await asyncio.sleep(wait)
        seen = await visible_observations(http, url)
        polls += 1
    return polls


async def throughput(
    server: Server, spans: int, batch: int, senders: int, adaptive: bool = False, gen: Generator | None = None
) -> float:
    """One run; returns the sustained rate (spans/s until all are queryable)."""
    gen = gen or Generator()
    print(f"generating {spans} spans in batches of {batch} ...", flush=True)
    payloads = [gen.batch(batch)[0] for _ in range(spans // batch)]
    size = sum(len(p) for p in payloads)
    print(f"{len(payloads)} requests, {size / 1e6:.1f} MB gzip'd", flush=True)
    latencies: list[float] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for p in payloads:
        queue.put_nowait(p)
    async with aiohttp.ClientSession(headers=server.auth_headers) as http:
        base = await visible_observations(http, server.url)

        async def sender() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                while True:
                    t = time.perf_counter()
                    retry_after = await post_otlp(http, server.url, body)
                    if retry_after is not None:
                        await asyncio.sleep(retry_after)
                        continue
                    latencies.append(time.perf_counter() - t)
                    break

        with PeakRss(server.process) as peak, HostCpu() as host:
            cpu0 = server.cpu_seconds()
            helpers0 = helper_cpu_seconds(server)
            t0 = time.perf_counter()
            await asyncio.gather(*(sender() for _ in range(senders)))
            accepted = time.perf_counter() - t0
            target = base + len(payloads) * batch
            polls = await wait_visible(http, server.url, base, target, adaptive)
            visible = time.perf_counter() - t0
            cpu = server.cpu_seconds() - cpu0
            helpers = {k: v - helpers0.get(k, 0.0) for k, v in helper_cpu_seconds(server).items()}
    n = len(payloads) * batch
    print(
        f"accepted {n} spans in {accepted:.2f} s: {n / accepted:,.0f} spans/s "
        f"(request p50 {pct(latencies, 50) * 1000:.0f} ms, p99 {pct(latencies, 99) * 1000:.0f} ms)"
    )
    print(
        f"all {n} queryable through the API after {visible:.2f} s: **{n / visible:,.0f} spans/s sustained** "
        f"({polls} {'adaptive' if adaptive else 'fixed 0.25 s'} polls of the count)"
    )
    print(
        f"server CPU {cpu:.1f} s = {cpu / n * 1e6:.0f} µs/span in the serving process, "
        f"+ {helpers['mapping'] / n * 1e6:.0f} µs/span in the mapping processes, "
        f"+ {helpers['postgres'] / n * 1e6:.0f} µs/span in PostgreSQL; "
        f"peak RSS {peak.peak:.0f} MB (serving process; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})"
    )
    print(f"  {host}")
    return n / visible


def append_samples(path: str, seconds: list[float]) -> None:
    """Raw samples, so runs can be pooled: one run's p99 is nearly its maximum."""
    with open(path, "a") as out:
        out.writelines(f"{s * 1000:.2f}\n" for s in seconds)


async def fixed_rate(
    server: Server,
    rate: int,
    seconds: float,
    batch: int,
    senders: int,
    arrivals: str,
    samples_out: str | None,
    poll_ms: int = 250,
    watch_every: int = 1,
    floor: str | None = None,
    warmup: float = 5.0,
) -> None:
    """Requests at `rate` spans/s on average, timed one by one.

    `poisson` (the default): `senders` independent exporters, each sending a batch at exponentially
    distributed intervals (a Poisson process), as many SDK processes exporting on their own
    schedules do; requests sometimes overlap, at random. `paired`: one sender posting the
    second's batches back to back at the top of every second (what earlier RESULTS measured),
    so every other request lands while the one before it is being mapped and inserted."""
    gen = Generator(seed=2)
    per_second = max(1, rate // batch)
    accept: list[float] = []
    visible: list[float] = []
    pending: list[tuple[str, float]] = []
    reads = [0]
    async with aiohttp.ClientSession(headers=server.auth_headers) as http:

        async def watch() -> None:
            while True:
                await asyncio.sleep(poll_ms / 1000)
                still = []
                for trace_id, sent in pending:
                    reads[0] += 1
                    async with http.get(f"{server.url}/api/public/traces/{trace_id}") as r:
                        await r.read()
                        if r.status == 200:
                            visible.append(time.perf_counter() - sent)
                        else:
                            still.append((trace_id, sent))
                pending[:] = still

        async def post(body: bytes, traces: list[str]) -> None:
            t = time.perf_counter()
            if await post_otlp(http, server.url, body) is not None:
                raise RuntimeError("429 at a fixed rate: the backlog bound is too low for this rate")
            accept.append(time.perf_counter() - t)
            if not floor and len(accept) % watch_every == 0:
                pending.append((traces[-1], t))

        # Generated up front: building and gzipping a request costs the client ~50 ms of CPU on the
        # same two cores, which would otherwise land next to the requests being timed.
        ready = [gen.batch(batch) for _ in range(per_second * (int(seconds + warmup) + 1) + 20 * senders)]
        # Not timed: a fresh server's first requests pay one-off costs (the key's first lookup in
        # PostgreSQL, first calls into the parser and the journal: ~50-150 ms against ~10), which
        # are not the steady state a rate target is about. The first one is printed on its own.
        first = None
        warm_until = time.perf_counter() + warmup
        while time.perf_counter() < warm_until:
            t = time.perf_counter()
            if await post_otlp(http, server.url, ready.pop()[0]) is not None:
                raise RuntimeError("429 during the warm-up")
            if first is None:
                first = time.perf_counter() - t
            await asyncio.sleep(max(0.0, t + batch / rate - time.perf_counter()))
        watcher = asyncio.create_task(watch())
        with PeakRss(server.process) as peak, HostCpu() as host:
            cpu0 = all_cpu_seconds(server)
            t0 = time.perf_counter()
            if arrivals == "paired":
                tick = 0
                while time.perf_counter() - t0 < seconds:
                    for _ in range(per_second):
                        await post(*ready.pop())
                    tick += 1
                    await asyncio.sleep(max(0.0, t0 + tick - time.perf_counter()))
            else:
                mean_gap = senders * batch / rate

                async def sender(rng: random.Random) -> None:
                    due = t0 + rng.expovariate(1 / mean_gap)
                    while due - t0 < seconds and ready:
                        await asyncio.sleep(max(0.0, due - time.perf_counter()))
                        await post(*ready.pop())
                        due += rng.expovariate(1 / mean_gap)

                await asyncio.gather(*(sender(random.Random(7 + i)) for i in range(senders)))
            deadline = time.perf_counter() + 30
            while pending and time.perf_counter() < deadline:
                await asyncio.sleep(0.1)
            cpu = all_cpu_seconds(server) - cpu0
        watcher.cancel()
    if samples_out:
        append_samples(samples_out, accept)
    shape = f"{senders} Poisson senders" if arrivals == "poisson" else "pairs at the top of each second"
    target = f"the {floor} floor receiver (bench/_floor_server.py)" if floor else "Spyglass"
    print(f"{rate} spans/s for {seconds:.0f} s in batches of {batch}, {shape}, to {target}:")
    print(
        f"  accept latency p50 {pct(accept, 50) * 1000:.1f} ms, p99 {pct(accept, 99) * 1000:.1f} ms "
        f"({len(accept)} requests)"
    )
    if first is not None:
        print(f"  after {warmup:.0f} s of warm-up at the same rate, not timed (first request {first * 1000:.0f} ms)")
    if floor:
        print(f"  receiver CPU {cpu:.1f} s; peak RSS {peak.peak:.0f} MB; {host}")
        return
    print(
        f"  ingest-to-visible p50 {pct(visible, 50):.2f} s, p99 {pct(visible, 99):.2f} s "
        f"({len(visible)} traces sampled, one request in {watch_every}; {len(pending)} not visible after 30 s; "
        f"{reads[0]} trace reads, one every {poll_ms} ms per trace until it showed)"
    )
    spans = len(accept) * batch
    print(
        f"  server CPU {cpu:.1f} s ({cpu / spans * 1e6:.0f} µs/span: serving and mapping processes and "
        "PostgreSQL, the watcher's reads included)"
    )
    print(f"  peak RSS {peak.peak:.0f} MB; {host}")


async def legacy(server: Server, events: int, batch: int, senders: int) -> None:
    gen = Generator(seed=3)
    now = datetime.now(UTC).isoformat()
    batches = []
    for _ in range(events // batch):
        items = []
        trace_id = str(uuid.uuid4())
        for i in range(batch):
            if i % 10 == 0:
                trace_id = str(uuid.uuid4())
                items.append(
                    {
                        "id": str(uuid.uuid4()),
                        "type": "trace-create",
                        "timestamp": now,
                        "body": {"id": trace_id, "name": "legacy", "userId": "u1"},
                    }
                )
            else:
                items.append(
                    {
                        "id": str(uuid.uuid4()),
                        "type": "generation-create",
                        "timestamp": now,
                        "body": {
                            "id": str(uuid.uuid4()),
                            "traceId": trace_id,
                            "name": "g",
                            "model": "gpt-4o",
                            "input": gen.prompt,
                            "output": gen.completion,
                            "startTime": now,
                            "usage": {"input": 100, "output": 20},
                        },
                    }
                )
        batches.append(json.dumps({"batch": items}).encode())
    async with aiohttp.ClientSession(headers=server.auth_headers) as http:
        base = await visible_observations(http, server.url)
        q: asyncio.Queue[bytes] = asyncio.Queue()
        for b in batches:
            q.put_nowait(b)

        async def sender() -> None:
            while not q.empty():
                body = q.get_nowait()
                async with http.post(
                    f"{server.url}/api/public/ingestion", data=body, headers={"Content-Type": "application/json"}
                ) as r:
                    await r.read()
                    assert r.status == 207, r.status

        t0 = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(senders)))
        accepted = time.perf_counter() - t0
        expected_obs = base + sum(1 for b in batches for _ in range(batch)) * 9 // 10
        while await visible_observations(http, server.url) < expected_obs:
            await asyncio.sleep(0.25)
        done = time.perf_counter() - t0
    n = len(batches) * batch
    print(
        f"legacy ingestion: {n} events accepted at {n / accepted:,.0f} events/s; "
        f"queryable after {done:.2f} s = {n / done:,.0f} events/s"
    )


async def big_trace(server: Server, observations: int, batch: int) -> None:
    """One trace of `observations` spans, sent in batches: memory must stay flat."""
    gen = Generator(seed=4)
    trace_id = os.urandom(16)
    rss: list[float] = []
    async with aiohttp.ClientSession(headers=server.auth_headers) as http:
        t0 = time.perf_counter()
        for _ in range(observations // batch):
            body, _ = gen.batch(batch, spans_per_trace=batch, trace_id=trace_id)
            while (retry_after := await post_otlp(http, server.url, body)) is not None:
                await asyncio.sleep(retry_after)
            rss.append(server.rss_mb())
        while True:
            async with http.get(f"{server.url}/api/public/traces/{trace_id.hex()}") as r:
                if r.status == 200 and len((await r.json())["observations"]) >= observations:
                    break
            await asyncio.sleep(0.5)
        took = time.perf_counter() - t0
    print(
        f"one trace of {observations} observations visible after {took:.1f} s; server RSS over the "
        f"batches: first {rss[0]:.0f} MB, max {max(rss):.0f} MB, last {rss[-1]:.0f} MB"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--rate", type=int, default=0)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument(
        "--arrivals",
        choices=["poisson", "paired"],
        default="poisson",
        help="with --rate: independent Poisson senders (--senders), or one sender posting pairs each second",
    )
    ap.add_argument("--samples-out", help="with --rate: append every accept latency (ms) to this file")
    ap.add_argument(
        "--poll-ms",
        type=int,
        default=250,
        help="with --rate: how often each sent trace is read until it shows. A trace read costs the server "
        "~40-60 ms of CPU: at 50 ms the watcher read without pause and took ~0.4 of the 2 cores",
    )
    ap.add_argument(
        "--watch-every",
        type=int,
        default=1,
        help="with --rate: read only every Nth request's trace for ingest-to-visible. The watcher reads each "
        "watched trace until it shows, so its load on the server grows with the visibility delay itself",
    )
    ap.add_argument(
        "--floor",
        nargs="?",
        const="durable",
        choices=["durable", "check", "http"],
        help="with --rate: send the same load to bench/_floor_server.py instead, to see how much of a latency "
        "tail the host alone makes. durable: read, inflate, parse, one fdatasync'd append, answer; check: "
        "the same without the fdatasync; http: answer once the body is read",
    )
    ap.add_argument(
        "--warmup-seconds",
        type=float,
        default=5.0,
        help="with --rate: send at the rate this long before timing (a fresh server's first requests pay "
        "one-off costs); 0 times from the first request",
    )
    ap.add_argument(
        "--no-usage",
        action="store_true",
        help="throughput: generations report no usage, so it is counted from their 2 KB input and output "
        "(the gpt-4o and gpt-4o-mini ones: 16 %% of the spans)",
    )
    ap.add_argument("--prose", action="store_true", help="throughput: generations' text is prose, not ten words")
    ap.add_argument(
        "--unique-text",
        action="store_true",
        help="throughput: every generation's text differs, so no token count is cached (the worst case)",
    )
    ap.add_argument("--code", type=Path, help="run the Spyglass of this source tree, not the installed one")
    ap.add_argument(
        "--baseline",
        type=Path,
        help="throughput: alternate runs between --code (or the installed code) and this source tree "
        "(e.g. a git worktree of the commit before a change), --repeat of each; prints both medians",
    )
    ap.add_argument("--legacy", action="store_true")
    ap.add_argument("--big-trace", type=int, default=0, help="observations in one trace")
    ap.add_argument("--map-processes", type=int, default=None, help="collector.worker_concurrency")
    ap.add_argument(
        "--background-priority", choices=["idle", "normal"], default=None, help="collector.background_priority"
    )
    ap.add_argument(
        "--journal", choices=["on", "off"], default=None, help="blob.events.journal (the raw log's write-ahead journal)"
    )
    ap.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the server (repeatable), e.g. SPYGLASS_COLLECTOR__BATCH_MAX_WAIT_MS=1000; "
        "the server is otherwise started without the caller's SPYGLASS_/LANGFUSE_ variables",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="throughput runs, each on a fresh server; prints the median and range (this VM's speed "
        "varies ±15 %% from run to run)",
    )
    ap.add_argument(
        "--adaptive-poll",
        action="store_true",
        help="poll the observation count every 0.25 s only near the end (each poll costs the server a count)",
    )
    args = ap.parse_args()
    if args.watch_every < 1:
        ap.error("--watch-every must be 1 or more")
    chosen = {"WORKER_CONCURRENCY": args.map_processes, "BACKGROUND_PRIORITY": args.background_priority}
    env = {f"SPYGLASS_COLLECTOR__{k}": str(v) for k, v in chosen.items() if v is not None}
    if args.journal is not None:
        env["SPYGLASS_BLOB__EVENTS__JOURNAL"] = "true" if args.journal == "on" else "false"
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            ap.error(f"--env wants NAME=VALUE, got {item!r}")
        env[name] = value
    if args.floor and not args.rate:
        ap.error("--floor needs --rate")
    if args.repeat > 1 or args.baseline:
        repeat_throughput(args, env)
        return
    server = (FloorServer(args.floor, extra_env=env) if args.floor else Server(extra_env=env, code=args.code)).start()
    try:
        if args.big_trace:
            asyncio.run(big_trace(server, args.big_trace, args.batch))
        elif args.legacy:
            asyncio.run(legacy(server, args.spans, 100, args.senders))
        elif args.rate:
            asyncio.run(
                fixed_rate(
                    server,
                    args.rate,
                    args.seconds,
                    args.batch,
                    args.senders,
                    args.arrivals,
                    args.samples_out,
                    args.poll_ms,
                    args.watch_every,
                    args.floor,
                    args.warmup_seconds,
                )
            )
        else:
            asyncio.run(throughput(server, args.spans, args.batch, args.senders, args.adaptive_poll, generator(args)))
    finally:
        server.stop()
    print(f"(server ready in {server.ready_seconds:.1f} s)")


def generator(args: argparse.Namespace) -> Generator:
    return Generator(usage=not args.no_usage, prose=args.prose, unique_text=args.unique_text)


def repeat_throughput(args: argparse.Namespace, env: dict[str, str]) -> None:
    """`--repeat` runs, each on a fresh server; with `--baseline`, that many of each side,
    alternating, so both see the same machine (its speed drifts over minutes)."""
    sides: list[tuple[str, Path | None]] = [(str(args.code) if args.code else "installed code", args.code)]
    if args.baseline:
        sides.append((f"baseline {args.baseline}", args.baseline))
    rates: dict[str, list[float]] = {label: [] for label, _ in sides}
    for i in range(args.repeat):
        for label, code in sides:
            print(f"--- run {i + 1} of {args.repeat}: {label}", flush=True)
            server = Server(extra_env=env, code=code).start()
            try:
                rates[label].append(
                    asyncio.run(
                        throughput(server, args.spans, args.batch, args.senders, args.adaptive_poll, generator(args))
                    )
                )
            finally:
                server.stop()
    for label, runs in rates.items():
        print(
            f"{label}: sustained over {len(runs)} runs: median **{statistics.median(runs):,.0f} spans/s**, "
            f"min {min(runs):,.0f}, max {max(runs):,.0f}; "
            f"{sum(r >= 10_000 for r in runs)} of {len(runs)} runs at 10,000 or more"
        )


if __name__ == "__main__":
    main()
