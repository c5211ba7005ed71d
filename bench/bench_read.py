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
    ap.add_argument(
        "--no-metrics-cache", action="store_true", help="serve without the metrics day cache (api.metrics_cache_rows 0)"
    )
    args = ap.parse_args()
    env = {"SPYGLASS_API__METRICS_CACHE_ROWS": "0"} if args.no_metrics_cache else {}
    server = Server(data_dir=Path(args.data_dir), extra_env=env).start()
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

    def metrics(days: int, slide: bool = False) -> dict:
        # `slide`: the window ends up to 12 h before the newest trace, a different end on every
        # call, as a dashboard refreshed through the day asks (the partial days always differ).
        end = now - timedelta(minutes=random.randrange(720)) if slide else now
        query = {
            "view": "observations",
            "dimensions": [{"field": "providedModelName"}],
            "metrics": [
                {"measure": "totalCost", "aggregation": "sum"},
                {"measure": "totalTokens", "aggregation": "sum"},
            ],
            "timeDimension": {"granularity": "day"},
            "fromTimestamp": iso(end - timedelta(days=days)),
            "toTimestamp": iso(end),
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
        "metrics 7 days, window end varies": lambda: (f"{base}/metrics", metrics(7, slide=True)),
        "metrics 30 days, window end varies": lambda: (f"{base}/metrics", metrics(30, slide=True)),
    }
    results = {}
    try:
        with PeakRss(server.process) as peak:
            for name, make in cases.items():
                url, params = make()
                t = time.perf_counter()
                http.get(url, params=params, timeout=120).raise_for_status()  # warm
                first = time.perf_counter() - t
                times = []
                for _ in range(args.repeat):
                    url, params = make()
                    t = time.perf_counter()
                    r = http.get(url, params=params, timeout=120)
                    times.append(time.perf_counter() - t)
                    r.raise_for_status()
                results[name] = (p95(times), sorted(times)[len(times) // 2], first)
    finally:
        server.stop()
    for name, (p, med, first) in results.items():
        print(f"{name:42s} p95 {p * 1000:7.0f} ms   median {med * 1000:7.0f} ms   first call {first * 1000:7.0f} ms")
    print(f"server peak RSS while serving: {peak.peak:.0f} MB")


if __name__ == "__main__":
    main()
