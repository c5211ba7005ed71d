"""Local blob store `put` latency, as the accept path sees it: N concurrent writers putting
payloads of one size into the same hour directory.

    .venv/bin/python bench/bench_blob_put.py --size 1200000 --writers 4 --puts 400
    .venv/bin/python bench/bench_blob_put.py --size 350000 --writers 4 --puts 400   # gzip'd body
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

from spyglass.collector.rawlog import make_ref
from spyglass.store.blob.local import LocalBlobStore
from spyglass.store.blob.signing import LocalUrlSigner


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def run(size: int, writers: int, puts: int, directory: str) -> None:
    store = LocalBlobStore(directory, name="events", signer=LocalUrlSigner(b"k" * 32, "http://x"))
    await store.ensure_bucket()
    payload = os.urandom(size)  # incompressible, like a gzip body
    latencies: list[float] = []

    async def writer(n: int) -> None:
        for _ in range(n):
            ref = make_ref("bench", "otel", "pb")
            t0 = time.perf_counter()
            await store.put(ref.key, payload)
            latencies.append((time.perf_counter() - t0) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(writer(puts // writers) for _ in range(writers)))
    took = time.perf_counter() - began
    await store.close()
    print(
        f"{len(latencies)} puts of {size} bytes, {writers} writers: p50 {pct(latencies, 50):.1f} ms, "
        f"p99 {pct(latencies, 99):.1f} ms, max {max(latencies):.1f} ms, {len(latencies) / took:.0f} puts/s"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1_200_000)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--puts", type=int, default=400)
    ap.add_argument("--dir", default=None, help="on the disk under test (default: a temp dir in the data dir's parent)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir or os.path.expanduser("~")) as d:
        asyncio.run(run(args.size, args.writers, args.puts, d))


if __name__ == "__main__":
    main()
