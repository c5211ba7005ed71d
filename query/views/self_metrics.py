"""GET /metrics: the process's own counters in Prometheus' text format, without API-key auth
(as Prometheus scrapes); each process of a scale-out deployment reports its own roles."""

from __future__ import annotations

from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from spyglass.collector.http import INTAKE, LIFECYCLE, STORES, WORKER
from spyglass.collector.worker.consumer import BATCH_BUCKETS, IngestWorker
from spyglass.store.errors import SpyglassError


class _Snapshot:
    """What one scrape reports, read from the live objects (nothing counts twice on the hot path)."""

    def __init__(self, app: web.Application, backlog: int | None) -> None:
        self.app = app
        self.backlog = backlog

    def collect(self) -> Iterator[Metric]:
        app = self.app
        yield GaugeMetricFamily(
            "spyglass_http_requests_in_flight", "HTTP requests being handled", app[LIFECYCLE].in_flight
        )
        if self.backlog is not None:
            yield GaugeMetricFamily(
                "spyglass_queue_backlog", "Accepted payloads not yet committed (queued or in flight)", self.backlog
            )
        intake = app.get(INTAKE)
        if intake is not None:
            yield CounterMetricFamily(
                "spyglass_accepted_payloads", "Payloads persisted and queued by this process", intake.accepted_payloads
            )
        worker = app.get(WORKER)
        if isinstance(worker, IngestWorker):
            yield from _worker_metrics(worker)


def _worker_metrics(worker: IngestWorker) -> Iterator[Metric]:
    stats = worker.stats
    processor = worker.processor  # a RowProcessor in a running service; counters are its own
    for name, doc, value in (
        ("spyglass_worker_batches", "Batches committed", stats.batches),
        ("spyglass_worker_payloads", "Payloads committed", stats.payloads),
        ("spyglass_worker_rows", "Rows inserted", stats.rows),
        ("spyglass_worker_retries", "Payload deliveries put back for a retry", stats.retries),
        ("spyglass_dead_letters", "Payloads (or refused rows) recorded as dead letters", stats.dead_letters),
        ("spyglass_rejected_scores", "Scores dropped by their score config", getattr(processor, "rejected_scores", 0)),
        ("spyglass_unmappable_spans", "Spans the mapper failed on (logged)", getattr(processor, "unmappable_spans", 0)),
    ):
        yield CounterMetricFamily(name, doc, value)
    yield GaugeMetricFamily(
        "spyglass_ingest_lag_seconds",
        "Receive-to-commit time of the newest payload of the last batch (ingest-to-visible lag)",
        stats.last_lag_seconds,
    )
    cumulative, buckets = 0, []
    for bound, count in zip((*map(str, BATCH_BUCKETS), "+Inf"), stats.batch_sizes, strict=True):
        cumulative += count
        buckets.append((bound, cumulative))
    yield HistogramMetricFamily(
        "spyglass_worker_batch_payloads", "Payloads per committed batch", buckets, stats.payloads
    )


async def metrics(request: web.Request) -> web.Response:
    backlog: int | None = None
    stores = request.app.get(STORES)
    if stores is not None:
        try:
            backlog = await stores.queue.backlog()
        except SpyglassError:
            backlog = None  # the queue's own trouble shows in /api/public/health
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(request.app, backlog))
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
