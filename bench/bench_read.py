"""Issue 4 targets: p95 latency of the public read API on a loaded store (see load_store.py).

.venv/bin/python bench/bench_read.py --data-dir /tmp/sg10m-t --public-key pk-lf-... --secret-key sk-lf-...
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from _server import PeakRss, Server


def p95(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--public-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    server = Server(data_dir=Path(args.data_dir)).start()
    http = requests.Session()
    http.auth = (args.public_key, args.secret_key)
    base = f"{server.url}/api/public"
    iso = lambda d: d.isoformat().replace("+00:00", "Z")  # noqa: E731
    first = http.get(f"{base}/traces", params={"limit": 50}, timeout=60).json()["data"]
    trace_ids = [t["id"] for t in first]
    # The time windows ("last 24 h", 7 and 30 days) end at the store's newest trace, not at the
    # wall clock: a store loaded days ago would otherwise leave them (partly) empty.
    newest = datetime.fromisoformat(first[0]["timestamp"].replace("Z", "+00:00"))
    now = min(datetime.now(UTC), newest + timedelta(seconds=1))
    print(f"windows end at {iso(now)} (newest trace {first[0]['timestamp']})")

    def metrics(days: int) -> dict:
        query = {
            "view": "observations",
            "dimensions": [{"field": "providedModelName"}],
            "metrics": [
                {"measure": "totalCost", "aggregation": "sum"},
                {"measure": "totalTokens", "aggregation": "sum"},
            ],
            "timeDimension": {"granularity": "day"},
            "fromTimestamp": iso(now - timedelta(days=days)),
            "toTimestamp": iso(now),
        }
        return {"query": json.dumps(query)}

    cases = {
        "trace list, first page of 50": lambda: (f"{base}/traces", {"limit": 50}),
        "trace list, user filter": lambda: (f"{base}/traces", {"limit": 50, "userId": f"user-{random.randrange(300)}"}),
        "trace list, tag filter": lambda: (f"{base}/traces", {"limit": 50, "tags": "beta"}),
        "trace list, last 24 h": lambda: (
            f"{base}/traces",
            {"limit": 50, "fromTimestamp": iso(now - timedelta(days=1))},
        ),
        "trace detail (10 observations)": lambda: (f"{base}/traces/{random.choice(trace_ids)}", {}),
        "v2 observations page": lambda: (f"{base}/v2/observations", {"limit": 50}),
        "metrics 7 days cost+tokens by model": lambda: (f"{base}/metrics", metrics(7)),
        "metrics 30 days cost+tokens by model": lambda: (f"{base}/metrics", metrics(30)),
    }
    results = {}
    try:
        with PeakRss(server.process) as peak:
            for name, make in cases.items():
                url, params = make()
                http.get(url, params=params, timeout=120).raise_for_status()  # warm
                times = []
                for _ in range(args.repeat):
                    url, params = make()
                    t = time.perf_counter()
                    r = http.get(url, params=params, timeout=120)
                    times.append(time.perf_counter() - t)
                    r.raise_for_status()
                results[name] = (p95(times), sorted(times)[len(times) // 2])
    finally:
        server.stop()
    for name, (p, med) in results.items():
        print(f"{name:42s} p95 {p * 1000:7.0f} ms   median {med * 1000:7.0f} ms")
    print(f"server peak RSS while serving: {peak.peak:.0f} MB")


if __name__ == "__main__":
    main()
