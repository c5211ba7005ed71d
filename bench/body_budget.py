"""Issue 17 item 5: memory while many large request bodies are in flight at once.

Sends `--clients` concurrent OTLP/HTTP requests of `--mib` MiB each (protobuf, one resource with
one large attribute and no spans, so the worker has nothing to store and the figures are the
receiving path's alone) and prints the serving process's RSS before, at its peak, and after
the requests finished. A 429 is retried after its Retry-After, as an exporter would, so every
request is eventually accepted.

    .venv/bin/python bench/body_budget.py                                  # default budget
    .venv/bin/python bench/body_budget.py --budget 0                       # no budget
    .venv/bin/python bench/body_budget.py --root /tmp/prev                 # another checkout
    .venv/bin/python bench/body_budget.py --gzip                           # gzip bodies
    .venv/bin/python bench/body_budget.py --grpc                           # OTLP/gRPC

`--root` runs the server from another checkout of the repository (e.g. `git worktree add
/tmp/prev HEAD~1`), so the same load can be measured on the code before a change.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import os
import time
from pathlib import Path

import aiohttp
import grpc
from _server import PeakRss, Server
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans


def body(mib: float, seed: int) -> bytes:
    """A valid OTLP request of about `mib` MiB: base64 text compresses about as well as JSON
    payloads do (gzip ~0.75), unlike a run of one letter."""
    raw = os.urandom(int(mib * 1024 * 1024 * 3 / 4))
    request = ExportTraceServiceRequest()
    rs: ResourceSpans = request.resource_spans.add()
    value = AnyValue(string_value=f"{seed}:" + base64.b64encode(raw).decode())
    rs.resource.attributes.append(KeyValue(key="bench.blob", value=value))
    return request.SerializeToString()


async def send(
    http: aiohttp.ClientSession, url: str, data: bytes, headers: dict[str, str], refused: list[int]
) -> float:
    """POST until accepted; returns the seconds it took."""
    began = time.monotonic()
    for _ in range(200):
        async with http.post(f"{url}/api/public/otel/v1/traces", data=data, headers=headers) as r:
            await r.read()
            if r.status == 429:
                refused.append(1)
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
                continue
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}: {(await r.read())[:200]!r}")
            return time.monotonic() - began
    raise RuntimeError("never accepted")


EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


async def send_grpc(channel: grpc.aio.Channel, auth: str, data: bytes, refused: list[int]) -> float:
    """Export until accepted (UNAVAILABLE is retried after a second); returns the seconds it took."""
    began = time.monotonic()
    export = channel.unary_unary(EXPORT)
    for _ in range(200):
        try:
            await export(data, metadata=(("authorization", auth),), timeout=600)
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED):
                raise
            refused.append(1)
            await asyncio.sleep(1)
            continue
        return time.monotonic() - began
    raise RuntimeError("never accepted")


async def run(server: Server, clients: int, mib: float, compress: bool, over_grpc: bool) -> None:
    headers = {**server.auth_headers, "Content-Type": "application/x-protobuf"}
    bodies = [body(mib, i) for i in range(clients)]
    if compress:
        bodies = [gzip.compress(b, 1) for b in bodies]
        headers["Content-Encoding"] = "gzip"
    # One channel per client, as separate exporters would have.
    channels = [
        grpc.aio.insecure_channel(
            f"127.0.0.1:{server.grpc_port}", options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]
        )
        for _ in range(clients if over_grpc else 0)
    ]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http:
        # One small request first: the key is cached and the first-request costs are paid.
        await send(http, server.url, body(0.01, -1), {**headers, "Content-Encoding": "identity"}, [])
        await asyncio.sleep(3)
        before = server.rss_mb()
        refused: list[int] = []
        with PeakRss(server.process, every=0.05) as peak:
            began = time.monotonic()
            if over_grpc:
                auth = headers["Authorization"]
                sends = [send_grpc(c, auth, b, refused) for c, b in zip(channels, bodies, strict=True)]
            else:
                sends = [send(http, server.url, b, headers, refused) for b in bodies]
            took = await asyncio.gather(*sends)
            wall = time.monotonic() - began
            await asyncio.sleep(10)
        after = server.rss_mb()
    for c in channels:
        await c.close()
    size = len(bodies[0]) / 1024 / 1024
    how = "OTLP/gRPC messages" if over_grpc else "OTLP/HTTP bodies"
    print(f"{clients} concurrent {how} of {size:.1f} MiB{' (gzip)' if compress else ''}")
    print(f"RSS before {before:.0f} MB, peak {peak.peak:.0f} MB, 10 s after the last answer {after:.0f} MB")
    print(f"all accepted in {wall:.1f} s (slowest {max(took):.1f} s), refusals (429/UNAVAILABLE): {len(refused)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=40)
    ap.add_argument("--mib", type=float, default=19.0, help="size of each body before compression")
    ap.add_argument("--budget", type=int, default=None, help="collector.max_body_bytes_in_flight (0: none)")
    ap.add_argument("--gzip", action="store_true", help="send the bodies gzip-compressed")
    ap.add_argument("--grpc", action="store_true", help="send over OTLP/gRPC instead of HTTP")
    ap.add_argument("--root", type=Path, default=None, help="run the server from this checkout")
    args = ap.parse_args()
    env = {}
    if args.budget is not None:
        env["SPYGLASS_COLLECTOR__MAX_BODY_BYTES_IN_FLIGHT"] = str(args.budget)
    server = Server(extra_env=env, code=args.root).start()
    try:
        asyncio.run(run(server, args.clients, args.mib, args.gzip, args.grpc))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
