"""Issue 2 targets: `spyglass serve` ready within 10 s of launch, under 2 % of one core when idle
for 60 s, and its idle RSS (aim: under 600 MB with chDB loaded).

    .venv/bin/python bench/bench_idle.py [--idle-seconds 60]
"""

from __future__ import annotations

import argparse
import time

import requests
from _server import Server


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--idle-seconds", type=float, default=60.0)
    args = ap.parse_args()
    cold = Server(remove_data_dir=False).start()
    cold.stop()
    # Warm start: the same data dir again (the machine's caches hold the binaries now).
    server = Server(data_dir=cold.data_dir, remove_data_dir=True)
    launched = time.monotonic()
    server.start()
    while requests.get(f"{server.url}/api/public/health", timeout=5).status_code != 200:
        time.sleep(0.05)
    ready = time.monotonic() - launched
    try:
        time.sleep(3)  # let start-up work settle
        cpu0 = server.cpu_seconds()
        t0 = time.monotonic()
        time.sleep(args.idle_seconds)
        cpu = (server.cpu_seconds() - cpu0) / (time.monotonic() - t0)
        rss = server.rss_mb()
    finally:
        server.stop()
    print(f"first start (initdb, migrations): {cold.ready_seconds:.2f} s to ready")
    print(f"warm start: {ready:.2f} s from launch to health 200")
    print(f"idle CPU over {args.idle_seconds:.0f} s: {cpu * 100:.2f} % of one core")
    print(f"idle RSS: {rss:.0f} MB")


if __name__ == "__main__":
    main()
