"""GET /metrics: Prometheus text without API-key auth, counters that follow what the service did."""

from __future__ import annotations

import asyncio

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.harness import Harness


async def _scrape(url: str) -> dict[str, float]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/metrics") as r:  # no Authorization header
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain; version=")
            text = await r.text()
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}


def _span(n: int) -> dict[str, object]:
    return {
        "traceId": f"{n:032x}",
        "spanId": f"{n:016x}",
        "name": "m",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000001000000000",
    }


async def test_counters_follow_ingest(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    await spyglass.wait_idle()
    before = await _scrape(spyglass.url)
    async with aiohttp.ClientSession() as http:
        for n in range(3):
            body = {"resourceSpans": [{"scopeSpans": [{"spans": [_span(0xABC0 + n)]}]}]}
            async with http.post(f"{spyglass.url}/v1/traces", json=body, headers=keys.headers) as r:
                assert r.status == 200
    await spyglass.wait_idle()
    await asyncio.sleep(0)
    after = await _scrape(spyglass.url)
    assert after["spyglass_accepted_payloads_total"] - before["spyglass_accepted_payloads_total"] == 3
    assert after["spyglass_worker_payloads_total"] - before["spyglass_worker_payloads_total"] == 3
    assert after["spyglass_worker_batches_total"] > before["spyglass_worker_batches_total"]
    assert after["spyglass_worker_batch_payloads_count"] == after["spyglass_worker_batches_total"]
    assert after["spyglass_worker_batch_payloads_sum"] == after["spyglass_worker_payloads_total"]
    assert after["spyglass_queue_backlog"] == 0
    assert after["spyglass_unmappable_spans_total"] == before["spyglass_unmappable_spans_total"]
    for name in ("spyglass_dead_letters_total", "spyglass_rejected_scores_total", "spyglass_ingest_lag_seconds"):
        assert name in after
