"""Local blob store `put` latency, as the accept path sees it: N concurrent writers putting
payloads of one size into the same hour directory.

    .venv/bin/python bench/bench_blob_put.py --size 1200000 --writers 4 --puts 400
    .venv/bin/python bench/bench_blob_put.py --size 350000 --writers 4 --puts 400   # gzip'd body
    .venv/bin/python bench/bench_blob_put.py --size 350000 --journal   # through the write-ahead journal
    .venv/bin/python bench/bench_blob_put.py --size 350000 --rate 20   # 20 puts/s, not flat out
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time

from spyglass.collector.rawlog import make_ref
from spyglass.store.blob.local import LocalBlobStore
from spyglass.store.blob.signing import LocalUrlSigner


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def run(size: int, writers: int, puts: int, directory: str, journal: bool, rate: float | None) -> None:
    store = LocalBlobStore(directory, name="events", signer=LocalUrlSigner(b"k" * 32, "http://x"), journal=journal)
    await store.ensure_bucket()
    if store.journal is not None:
        # Start it (the first put does) and wait for its first segment, as a running server has.
        await store.put("warm-up", b"")
        await asyncio.get_running_loop().run_in_executor(None, store.journal.wait_idle)
    payload = os.urandom(size)  # incompressible, like a gzip body
    latencies: list[float] = []

    rng = random.Random(7)

    async def writer(n: int) -> None:
        for _ in range(n):
            if rate:
                # Each writer an independent Poisson process; together `rate` puts/s.
                await asyncio.sleep(rng.expovariate(rate / writers))
            ref = make_ref("bench", "otel", "pb")
            t0 = time.perf_counter()
            await store.put(ref.key, payload)
            latencies.append((time.perf_counter() - t0) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(writer(puts // writers) for _ in range(writers)))
    took = time.perf_counter() - began
    await store.close()
    print(
        f"{len(latencies)} puts of {size} bytes, {writers} writers, journal {'on' if journal else 'off'}: "
        f"p50 {pct(latencies, 50):.1f} ms, "
        f"p99 {pct(latencies, 99):.1f} ms, max {max(latencies):.1f} ms, {len(latencies) / took:.0f} puts/s"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1_200_000)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--puts", type=int, default=400)
    ap.add_argument("--rate", type=float, default=None, help="puts/s in all (Poisson arrivals); default: flat out")
    ap.add_argument("--journal", action="store_true", help="make puts durable through the write-ahead journal")
    ap.add_argument("--dir", default=None, help="on the disk under test (default: a temp dir in the data dir's parent)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir or os.path.expanduser("~")) as d:
        asyncio.run(run(args.size, args.writers, args.puts, d, args.journal, args.rate))


if __name__ == "__main__":
    main()
