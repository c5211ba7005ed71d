"""The least an OTLP/HTTP receiver that keeps its promises must do per request, and nothing else.

`durable` (the default): read the body, inflate and parse it (the issue asks for 400s and partial
success, so every request is checked), make it durable (an append to a preallocated file and an
fdatasync, the cheapest durable write there is), answer. `check` skips the fdatasync; `http`
answers as soon as the body is read. No auth, no queue, no worker, no reads, no ClickHouse.
`bench_ingest.py --floor` drives it with the same load as Spyglass: on a shared VM, the floor's
latency tail is what the host alone makes of that much work.

    python bench/_floor_server.py PORT DATA_DIR [durable|check|http]
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

SEGMENT_BYTES = 256 << 20
WORK = ("durable", "check", "http")
_EMPTY = ExportTraceServiceResponse().SerializeToString()


class Log:
    """Appends to one preallocated file: overwriting allocated blocks needs no journal commit."""

    def __init__(self, path: Path, sync: bool) -> None:
        self._sync = sync
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.posix_fallocate(self._fd, 0, SEGMENT_BYTES)
        os.fsync(self._fd)
        self._offset = 0
        self._lock = threading.Lock()

    def append(self, data: bytes) -> None:
        with self._lock:
            if self._offset + len(data) > SEGMENT_BYTES:
                self._offset = 0
            os.pwrite(self._fd, data, self._offset)
            self._offset += len(data)
        if self._sync:
            os.fdatasync(self._fd)


def check_and_keep(log: Log, body: bytes, gzipped: bool) -> int:
    # Every span is visited, as the accept check visits each one for partial success.
    plain = zlib.decompress(body, 31) if gzipped else body
    request = ExportTraceServiceRequest.FromString(plain)
    spans = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    log.append(body)
    return spans


def make_app(data_dir: Path, work: str) -> web.Application:
    log = Log(data_dir / "floor.log", sync=work == "durable")
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="floor")

    async def traces(request: web.Request) -> web.Response:
        body = await request.read()
        if work == "http":
            return web.Response(body=_EMPTY, content_type="application/x-protobuf")
        gzipped = request.headers.get("Content-Encoding", "") == "gzip"
        await asyncio.get_running_loop().run_in_executor(pool, check_and_keep, log, body, gzipped)
        return web.Response(body=_EMPTY, content_type="application/x-protobuf")

    app = web.Application(client_max_size=64 << 20)
    app.router.add_post("/api/public/otel/v1/traces", traces)
    return app


async def serve(port: int, data_dir: Path, work: str) -> None:
    # As Spyglass does: aiohttp would otherwise inflate gzip bodies on the event loop.
    runner = web.AppRunner(make_app(data_dir, work), auto_decompress=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready:", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    work = sys.argv[3] if len(sys.argv) > 3 else "durable"
    if work not in WORK:
        raise SystemExit(f"work must be one of {', '.join(WORK)}")
    asyncio.run(serve(int(sys.argv[1]), Path(sys.argv[2]), work))


if __name__ == "__main__":
    main()
