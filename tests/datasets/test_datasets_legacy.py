"""Datasets and dataset runs through the legacy Python SDK (`langfuse<3`): `item.observe()`,
`item.link()`, `get_dataset_run(s)` — all parsed by that SDK's own response models."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.harness import Harness, ProjectKeys
from tests.prompts.legacy_sdk import legacy_python, run_legacy  # noqa: F401

SCRIPT = r"""
import json
from langfuse import Langfuse
from langfuse.decorators import langfuse_context, observe

lf = Langfuse()
lf.create_dataset(name="legacy/ds", description="old sdk", metadata={"m": 1})
for i in range(3):
    lf.create_dataset_item(dataset_name="legacy/ds", input={"i": i}, expected_output=i * 2)
dataset = lf.get_dataset("legacy/ds", fetch_items_page_size=2)

@observe()
def double(value):
    return value["i"] * 2

observed = []
for item in dataset.items:
    with item.observe(run_name="observed-run", run_description="via observe", run_metadata={"k": "v"}) as trace_id:
        double(item.input)
        observed.append(trace_id)
langfuse_context.flush()

trace = lf.trace(name="linked-trace")
span = trace.span(name="linked-span")
dataset.items[0].link(span, "linked-run")
lf.flush()

run = lf.get_dataset_run("legacy/ds", "observed-run")
runs = lf.get_dataset_runs("legacy/ds")
linked = lf.get_dataset_run("legacy/ds", "linked-run")
print(json.dumps({
    "items": len(dataset.items),
    "observed": observed,
    "run": [run.name, run.description, run.metadata, sorted(i.trace_id for i in run.dataset_run_items)],
    "runs": sorted(r.name for r in runs.data),
    "linked": [(i.trace_id, i.observation_id) for i in linked.dataset_run_items],
    "expected": [trace.id, span.id],
}))
"""


async def test_legacy_sdk_dataset_runs(legacy_python: Path, spyglass: Harness, keys: ProjectKeys) -> None:  # noqa: F811
    got = await run_legacy(legacy_python, spyglass, keys, SCRIPT)
    assert got["items"] == 3
    name, description, metadata, traces = got["run"]
    assert (name, description, metadata) == ("observed-run", "via observe", {"k": "v"})
    assert traces == sorted(got["observed"])
    assert got["runs"] == ["linked-run", "observed-run"]
    assert got["linked"] == [got["expected"]]
    # The linked traces themselves arrived through /api/public/ingestion.
    await spyglass.wait_idle()
    stored: set[str] = set()
    for _ in range(50):
        rows = await spyglass.stores.ch.rows(
            "SELECT DISTINCT id FROM traces WHERE project_id = {p:String} AND id IN {ids:Array(String)}",
            {"p": keys.project_id, "ids": got["observed"]},
        )
        stored = {r["id"] for r in rows}
        if stored == set(got["observed"]):
            break
        await asyncio.sleep(0.1)
    assert stored == set(got["observed"])
