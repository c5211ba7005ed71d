"""Datasets and an experiment through the Langfuse JS SDK v5: the run is created over REST
(`POST /dataset-run-items`, whose `datasetRunId` the SDK then puts on its spans) and completed
by the exported spans; both must land on the same run and items."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.harness import Harness, ProjectKeys
from tests.prompts.js_sdk import js_sdk, run_js  # noqa: F401
from tests.prompts.support import Api

SCRIPT = """
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { LangfuseSpanProcessor } from "@langfuse/otel";

const processor = new LangfuseSpanProcessor({ ...config, exportMode: "immediate" });
const provider = new NodeTracerProvider({ spanProcessors: [processor] });
provider.register();

await lf.api.datasets.create({ name: "js/ds", description: "from js" });
for (const n of [1, 2, 3]) {
  await lf.dataset.createItem({ datasetName: "js/ds", input: { n }, expectedOutput: n * n });
}
const dataset = await lf.dataset.get("js/ds", { fetchItemsPageSize: 2 });
const result = await dataset.runExperiment({
  name: "squares",
  runName: "js-run",
  description: "square numbers",
  task: async (item) => item.input.n * item.input.n,
  evaluators: [async ({ output, expectedOutput }) => ({ name: "exact", value: output === expectedOutput ? 1 : 0 })],
});
await lf.flush();
await processor.forceFlush();
await provider.shutdown();
console.log(JSON.stringify({
  items: dataset.items.length,
  runId: result.datasetRunId ?? result.experimentId,
  traces: result.itemResults.map((r) => r.traceId),
}));
"""


async def test_js_sdk_experiment_on_a_dataset(js_sdk: Path, spyglass: Harness, keys: ProjectKeys, api: Api) -> None:  # noqa: F811
    got = await run_js(js_sdk, spyglass, keys, SCRIPT)
    assert got["items"] == 3
    await spyglass.wait_idle()

    run = (await api.get("/api/public/datasets/js%2Fds/runs/js-run")).body
    assert run["id"] == got["runId"] and run["description"] == "square numbers"
    assert sorted(i["traceId"] for i in run["datasetRunItems"]) == sorted(got["traces"])
    assert len((await api.get("/api/public/datasets/js%2Fds/runs")).body["data"]) == 1

    since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    items: list[dict[str, Any]] = []
    for _ in range(50):  # the spans complete the REST-created items once the worker commits them
        items = (
            await api.get("/api/public/experiment-items", fromStartTime=since, experimentId=run["id"], fields="io")
        ).body["data"]
        if len(items) == 3 and all(i["output"] is not None for i in items):
            break
        await asyncio.sleep(0.1)
    assert len(items) == 3
    assert sorted(i["output"] for i in items) == [1, 4, 9]
    assert all(i["environment"] == "sdk-experiment" for i in items)
