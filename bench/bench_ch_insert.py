"""What an observation insert costs chDB, by input format and settings (CPU of this process).

Maps `bench/spans.py` payloads the way a mapping process does (16,000-row inserts, as the worker
batches them), then inserts the same rows into a Null table (parsing only) and into
`observations` (merges stopped, so only the insert is timed):

    .venv/bin/python bench/bench_ch_insert.py [--inserts 6]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import tempfile
import time
from typing import Any

from spans import Generator

from spyglass.collector.worker.map_pool import MapTask, ProjectModels, map_payload
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.migrate import migrate
from spyglass.store.clickhouse.rows import COMPACT_COLUMNS
from spyglass.store.config import ClickHouseConfig

COLUMNS = COMPACT_COLUMNS["observations"]


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def mapped_inserts(inserts: int) -> list[bytes]:
    gen = Generator()
    out = []
    for _ in range(inserts):
        rows = []
        for _ in range(32):
            body, _ = gen.batch(500)
            task = MapTask(body, "pb", "bench", time.time(), ProjectModels(0), "gzip")
            mapped = map_payload(task)
            assert not isinstance(mapped, str), mapped
            rows.append(mapped.rows)
        out.append(b"".join(rows))
    return out


async def timed(ch: ClickHouse, table: str, blocks: list[bytes], fmt: str, settings: dict[str, Any]) -> float:
    columns = COLUMNS if fmt == "JSONCompactEachRow" else None
    rows = 0
    began = cpu()
    for block in blocks:
        await ch._run(
            lambda c, b=block: c.raw_insert(table, column_names=columns, insert_block=b, fmt=fmt, settings=settings)
        )
        rows += 16_000
    return (cpu() - began) / rows * 1e6


async def main(inserts: int) -> None:
    blocks = mapped_inserts(inserts)
    data_dir = tempfile.mkdtemp(prefix="spyglass-ch-insert-")
    ch = ClickHouse(ClickHouseConfig(url=f"chdb://{data_dir}", pool_size=1))
    try:
        await ch.open()
        await migrate(ch)
        await ch.command("CREATE TABLE obs_null AS observations ENGINE = Null")
        await ch.command("SYSTEM STOP MERGES observations")
        base = {"async_insert": 0, "input_format_parallel_parsing": 0}
        for table in ("obs_null", "observations"):
            for label, settings in (
                ("optimize_on_insert=1", {**base, "optimize_on_insert": 1}),
                ("optimize_on_insert=0", {**base, "optimize_on_insert": 0}),
            ):
                us = await timed(ch, table, blocks, "JSONCompactEachRow", settings)
                print(f"JSONCompactEachRow {label:22s} into {table:12s} {us:6.1f} µs/row", flush=True)
        # The same rows as ClickHouse's own binary formats, for comparison.
        for fmt in ("RowBinary", "Native"):
            sample = await ch._run(
                lambda c, f=fmt: c.raw_query("SELECT * EXCEPT usage_total FROM observations LIMIT 16000", fmt=f)
            )
            for table in ("obs_null", "observations"):
                us = await timed(ch, table, [sample] * inserts, fmt, {**base, "optimize_on_insert": 0})
                print(f"{fmt:18s} {'optimize_on_insert=0':22s} into {table:12s} {us:6.1f} µs/row", flush=True)
    finally:
        await ch.close()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--inserts", type=int, default=6, help="16,000-row inserts per case")
    asyncio.run(main(ap.parse_args().inserts))
