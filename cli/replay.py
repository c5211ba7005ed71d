"""`spyglass replay`: process raw payloads from the raw log again.

Idempotent: rows are versioned by each payload's receive time, so replaying payloads that were
already processed rewrites identical rows and no query ever shows a duplicate. With Redis the
references go onto the shared queue for the running workers; in the embedded mode (Spyglass
stopped) this command processes them itself.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import click

from spyglass.cli.runtime import DataDirLock
from spyglass.cli.serve import public_url_of, stores_config
from spyglass.cli.settings import Settings
from spyglass.collector.rawlog import RawRef, encode_ref, hour_prefix, parse_key
from spyglass.collector.worker.consumer import IngestWorker
from spyglass.collector.worker.map_pool import PayloadMapper
from spyglass.collector.worker.processor_factory import build_processor
from spyglass.store.blob import BlobStore
from spyglass.store.postgres.dead_letters import DeadLetters
from spyglass.store.postgres.tenancy import Tenancy
from spyglass.store.queue import MemoryQueue, Queue
from spyglass.store.stores import open_stores


def parse_when(text: str | None, default: datetime) -> datetime:
    """ISO 8601 (`2026-11-01T00:00Z`) or a duration back from now (`90m`, `6h`, `7d`)."""
    if not text:
        return default
    units = {"m": 60, "h": 3600, "d": 86400}
    if text[-1:] in units and text[:-1].isdigit():
        return datetime.now(UTC) - timedelta(seconds=int(text[:-1]) * units[text[-1]])
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


async def raw_keys(blob: BlobStore, project_id: str, since: datetime, until: datetime) -> AsyncIterator[RawRef]:
    hour = since.replace(minute=0, second=0, microsecond=0)
    lo, hi = since.timestamp() * 1e6, until.timestamp() * 1e6
    while hour <= until:
        async for key in blob.list(hour_prefix(project_id, hour.timestamp())):
            ref = parse_key(key)
            if ref is not None and lo <= ref.received_us <= hi:
                yield ref
        hour += timedelta(hours=1)


async def replay(
    settings: Settings, projects: Sequence[str], since: datetime, until: datetime, keys: Sequence[str]
) -> int:
    embedded_queue = settings.redis.url is None
    lock = DataDirLock(settings.data_dir) if (embedded_queue or settings.clickhouse.embedded) else None
    if lock is not None:
        lock.acquire()  # a running serve owns the in-process queue and chDB: stop it first
    try:
        cfg = stores_config(settings, public_url_of(settings))
        async with open_stores(cfg, clickhouse=embedded_queue) as stores:
            refs: list[RawRef] = [r for r in (parse_key(k) for k in keys) if r is not None]
            if len(refs) != len(keys):
                bad = [k for k in keys if parse_key(k) is None]
                raise click.UsageError(f"not raw-log keys: {', '.join(bad)}")
            if not keys:
                pids = list(projects) or [p.id for p in await Tenancy(stores.pg).list_projects(include_deleted=True)]
                for pid in pids:
                    refs.extend([r async for r in raw_keys(stores.events_blob, pid, since, until)])
            if not embedded_queue:
                for ref in refs:
                    await stores.queue.put(encode_ref(ref))
                click.echo(f"queued {len(refs)} raw payloads for the running workers")
                return 0
            began = time.monotonic()
            queue: Queue = MemoryQueue("replay")
            for ref in refs:
                await queue.put(encode_ref(ref))
            worker = IngestWorker(
                ch=stores.ch,
                blob=stores.events_blob,
                queue=queue,
                # The live worker's processor, checks included. Gzip payloads inflate under the
                # same cap as at accept (a replayed zip bomb is a dead letter, not an out-of-memory).
                processor=build_processor(stores, mapper=PayloadMapper(0, settings.collector.largest_body_bytes)),
                dead_letters=DeadLetters(stores.pg),
                cfg=settings.collector,
            )
            await worker.drain(3600)
            took = time.monotonic() - began
            click.echo(
                f"replayed {worker.stats.payloads} payloads ({worker.stats.rows} rows) in {took:.1f} s; "
                f"{worker.stats.dead_letters} dead letters"
            )
            return 0 if worker.stats.dead_letters == 0 else 1
    finally:
        if lock is not None:
            lock.release()


async def list_dead_letters(settings: Settings, project: str | None, limit: int) -> int:
    from spyglass.cli.admin import admin_pool

    async with admin_pool(settings) as pool:
        letters = await DeadLetters(pool).list(project_id=project, limit=limit)
    for d in letters:
        click.echo(
            f"{d.created_at:%Y-%m-%d %H:%M:%S}\t{d.project_id or '-'}\t{d.source}\t{d.blob_key or '-'}\t{d.reason}"
        )
    if not letters:
        click.echo("no dead letters")
    return 0
