"""A cost the columns cannot hold is clamped on its span, not a reason to lose the payload; a row
the store still refuses is left out alone."""

from __future__ import annotations

import asyncio
import json
import uuid

import aiohttp

from spyglass.collector.config import CollectorConfig
from spyglass.collector.pricing.money import MAX_STORED_COST
from spyglass.collector.rawlog import encode_ref, make_ref
from spyglass.collector.worker.consumer import Done, IngestWorker, Payload, Prepared
from spyglass.store.blob import BlobStore
from spyglass.store.clickhouse.rows import ObservationRow
from spyglass.store.postgres.dead_letters import DeadLetters
from spyglass.store.queue import MemoryQueue
from tests.harness import Harness


def _span(trace_id: str, span_id: str, name: str, attrs: dict[str, object]) -> dict[str, object]:
    def value(v: object) -> dict[str, object]:
        return {"doubleValue": v} if isinstance(v, float) else {"stringValue": str(v)}

    return {
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000001000000000",
        "attributes": [{"key": k, "value": value(v)} for k, v in attrs.items()],
    }


async def test_huge_provided_costs_are_clamped_and_the_payload_is_stored(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    spans = [
        _span("a" * 32, "1" * 16, "total-1e7", {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.cost": 1e7}),
        _span("b" * 32, "2" * 16, "total-1e308", {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.cost": 1e308}),
        _span(
            "c" * 32,
            "3" * 16,
            "details-1e6",
            {"gen_ai.request.model": "gpt-4o", "langfuse.observation.cost_details": json.dumps({"input": 1e6})},
        ),
        _span("d" * 32, "4" * 16, "ordinary", {"gen_ai.request.model": "gpt-4o", "gen_ai.usage.cost": 0.5}),
    ]
    body = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": spans}]}]}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{spyglass.url}/api/public/otel/v1/traces", json=body, headers=keys.headers) as r:
            assert r.status == 200, await r.text()
    await spyglass.wait_idle()
    for _ in range(50):
        rows = await spyglass.stores.ch.rows(
            "SELECT name, total_cost, cost_details, metadata FROM observations FINAL "
            "WHERE project_id = {p:String} ORDER BY name",
            {"p": keys.project_id},
        )
        if len(rows) == 4:
            break
        await asyncio.sleep(0.2)
    by_name = {row["name"]: row for row in rows}
    assert set(by_name) == {"total-1e7", "total-1e308", "details-1e6", "ordinary"}
    for name in ("total-1e7", "total-1e308", "details-1e6"):
        assert float(by_name[name]["total_cost"]) == MAX_STORED_COST, name
        assert "clamped" in by_name[name]["metadata"]["spyglass.warning"], name
    assert float(by_name["details-1e6"]["cost_details"]["input"]) == MAX_STORED_COST
    assert float(by_name["ordinary"]["total_cost"]) == 0.5
    assert "spyglass.warning" not in by_name["ordinary"]["metadata"]


async def test_the_largest_usage_count_saturates_its_total(spyglass: Harness) -> None:
    """2^64-1 input tokens plus 5 output tokens: the inferred total must not wrap around to 4."""
    keys = await spyglass.new_project()
    now = "2026-01-01T00:00:00.000Z"
    largest = 2**64 - 1
    batch = {
        "batch": [
            {
                "id": "e1",
                "type": "generation-create",
                "timestamp": now,
                "body": {"id": "g-huge", "traceId": "t-huge", "name": "huge", "usage": {"input": largest, "output": 5}},
            }
        ]
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{spyglass.url}/api/public/ingestion", json=batch, headers=keys.headers) as r:
            assert r.status == 207, await r.text()
        await spyglass.wait_idle()
        async with http.get(f"{spyglass.url}/api/public/observations/g-huge", headers=keys.headers) as r:
            assert r.status == 200, await r.text()
            body = await r.json()
    assert body["usageDetails"] == {"input": largest, "output": 5, "total": largest}


class _OneBadRow:
    """A processor whose payload maps to five observations, one carrying a cost the store refuses:
    a stand-in for any field the mapping does not guard yet."""

    def __init__(self, project_id: str) -> None:
        self.project_id = project_id

    async def start(self, payloads: list[Payload]) -> list[Payload]:
        return payloads

    async def finish(self, payloads: list[Payload]) -> Prepared:
        rows = [
            ObservationRow(id=f"o{i}", trace_id="t-salvage", project_id=self.project_id, type="SPAN", start_time=1.8e9)
            for i in range(5)
        ]
        rows[3].total_cost = 1e12
        return Prepared(observations=rows, done=[Done(payloads[0], 5, 0)])

    def committed(self, prepared: Prepared) -> None:
        return None

    async def release(self, prepared: Prepared) -> None:
        return None


async def test_a_row_the_store_refuses_is_left_out_and_its_payload_stored(
    spyglass: Harness, events_blob: BlobStore, dead_letters: DeadLetters
) -> None:
    project_id = f"salvage-{uuid.uuid4().hex[:8]}"
    ref = make_ref(project_id, "ingestion", "json")
    await events_blob.put(ref.key, b"[]")
    queue = MemoryQueue("salvage")
    await queue.put(encode_ref(ref))
    worker = IngestWorker(
        ch=spyglass.stores.ch,
        blob=events_blob,
        queue=queue,
        processor=_OneBadRow(project_id),
        dead_letters=dead_letters,
        cfg=CollectorConfig(),
    )
    await worker.handle(await queue.get_batch(10, timeout=1))
    stored = await spyglass.stores.ch.rows(
        "SELECT id FROM observations WHERE project_id = {p:String} ORDER BY id", {"p": project_id}
    )
    assert [r["id"] for r in stored] == ["o0", "o1", "o2", "o4"]
    logged = await spyglass.stores.ch.scalar(
        "SELECT count() FROM ingest_log WHERE blob_key = {k:String}", {"k": ref.key}
    )
    assert logged == 1, "the payload counts as committed, so recovery does not queue it again"
    assert await queue.backlog() == 0
    (letter,) = await dead_letters.list(project_id=project_id)
    assert letter.blob_key == ref.key and "1 of 5 rows refused" in letter.reason
