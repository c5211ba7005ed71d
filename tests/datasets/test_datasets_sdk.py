"""Datasets and experiments driven by the latest Langfuse Python SDK, read back over the API."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.harness import Harness, ProjectKeys
from tests.prompts.support import Api, langfuse_client

SINCE = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _eventually(check: Any, attempts: int = 50) -> Any:
    """The worker commits shortly after the queue drains; poll a read until it shows up."""
    result = None
    for _ in range(attempts):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.1)
    return result


async def test_dataset_items_over_several_pages(spyglass: Harness, keys: ProjectKeys, api: Api) -> None:
    def run() -> Any:
        lf = langfuse_client(spyglass, keys, tracing_enabled=False)
        try:
            lf.create_dataset(
                name="evals/qa",
                description="questions",
                metadata={"owner": "qa"},
                input_schema={"type": "object", "required": ["question"]},
            )
            for i in range(5):
                lf.create_dataset_item(
                    dataset_name="evals/qa",
                    input={"question": f"q{i}"},
                    expected_output=f"a{i}",
                    metadata={"i": i},
                    source_trace_id=f"src-{i}" if i == 0 else None,
                )
            return lf.get_dataset("evals/qa", fetch_items_page_size=2)
        finally:
            lf.shutdown()

    dataset = await asyncio.to_thread(run)
    assert dataset.name == "evals/qa" and dataset.description == "questions" and dataset.metadata == {"owner": "qa"}
    assert dataset.input_schema == {"type": "object", "required": ["question"]}
    assert len(dataset.items) == 5
    assert sorted(i.input["question"] for i in dataset.items) == ["q0", "q1", "q2", "q3", "q4"]
    first = next(i for i in dataset.items if i.input["question"] == "q0")
    assert first.expected_output == "a0" and first.metadata == {"i": 0} and first.source_trace_id == "src-0"
    assert first.status == "ACTIVE" and first.dataset_name == "evals/qa" and first.version is not None
    by_source = await api.get("/api/public/dataset-items", sourceTraceId="src-0")
    assert [i["id"] for i in by_source.body["data"]] == [first.id]


async def test_run_experiment_links_items_traces_and_scores(spyglass: Harness, keys: ProjectKeys, api: Api) -> None:
    def run() -> tuple[Any, list[str]]:
        lf = langfuse_client(spyglass, keys)
        try:
            lf.create_dataset(name="arith")
            for a, b in ((1, 2), (3, 4), (5, 6)):
                lf.create_dataset_item(dataset_name="arith", input={"a": a, "b": b}, expected_output=a + b)
            dataset = lf.get_dataset("arith")

            def task(*, item: Any, **_: Any) -> int:
                total = item.input["a"] + item.input["b"]
                return total if item.input["a"] != 5 else total + 1  # one wrong answer

            def exact(*, output: Any, expected_output: Any, **_: Any) -> dict[str, Any]:
                return {"name": "exact", "value": 1.0 if output == expected_output else 0.0}

            def accuracy(*, item_results: Any, **_: Any) -> dict[str, Any]:
                values = [e.value for r in item_results for e in r.evaluations if e.name == "exact"]
                return {"name": "accuracy", "value": sum(values) / len(values)}

            result = dataset.run_experiment(
                name="arith-eval",
                run_name="arith-run-1",
                description="adds numbers",
                task=task,
                evaluators=[exact],
                run_evaluators=[accuracy],
                metadata={"model": "calculator"},
            )
            lf.flush()
            return result, [r.trace_id for r in result.item_results]
        finally:
            lf.shutdown()

    result, trace_ids = await asyncio.to_thread(run)
    await spyglass.wait_idle()
    run_id = result.experiment_id
    assert abs(result.run_evaluations[0].value - 2 / 3) < 1e-9

    runs = await _eventually(lambda: _data(api, "/api/public/datasets/arith/runs"))
    assert [(r["id"], r["name"], r["description"]) for r in runs] == [(run_id, "arith-run-1", "adds numbers")]
    assert runs[0]["metadata"] == {"model": "calculator"}

    detail = (await api.get("/api/public/datasets/arith/runs/arith-run-1")).body
    assert detail["id"] == run_id and detail["datasetName"] == "arith"
    assert sorted(i["traceId"] for i in detail["datasetRunItems"]) == sorted(trace_ids)
    assert all(i["datasetRunId"] == run_id and i["observationId"] for i in detail["datasetRunItems"])

    async def experiment_with_score() -> Any:
        data = await _data(api, "/api/public/experiments", fromStartTime=SINCE, fields="core,metadata,scores")
        return data if data and data[0]["scores"] else None

    experiments = await _eventually(experiment_with_score)
    assert experiments[0]["id"] == run_id and experiments[0]["itemCount"] == 3
    assert experiments[0]["metadata"] == {"model": "calculator"}
    [run_score] = experiments[0]["scores"]
    assert run_score["name"] == "accuracy" and abs(run_score["value"] - 2 / 3) < 1e-9
    assert run_score["subject"] == {"kind": "experiment", "id": run_id}

    async def items_with_scores() -> Any:
        data = await _data(
            api,
            "/api/public/experiment-items",
            fromStartTime=SINCE,
            experimentId=run_id,
            fields="core,dataset,io,scores",
        )
        return data if data and all(i["scores"] for i in data) else None

    items = await _eventually(items_with_scores)
    assert len(items) == 3
    by_input = {(i["input"]["a"], i["input"]["b"]): i for i in items}
    wrong = by_input[(5, 6)]
    assert wrong["output"] == 12 and wrong["expectedOutput"] == 11
    assert [s["value"] for s in wrong["scores"] if s["name"] == "exact"] == [0.0]
    assert all(i["environment"] == "sdk-experiment" and i["experimentName"] == "arith-run-1" for i in items)
    assert all(i["experimentDatasetId"] == detail["datasetId"] for i in items)


async def test_local_data_experiment_is_listed(spyglass: Harness, keys: ProjectKeys, api: Api) -> None:
    def run() -> Any:
        lf = langfuse_client(spyglass, keys)
        try:
            result = lf.run_experiment(
                name="local",
                run_name="local-run",
                data=[{"input": "x", "expected_output": "X"}, {"input": "y", "expected_output": "Y"}],
                task=lambda *, item, **_: item["input"].upper(),
            )
            lf.flush()
            return result
        finally:
            lf.shutdown()

    result = await asyncio.to_thread(run)
    await spyglass.wait_idle()
    experiments = await _eventually(lambda: _data(api, "/api/public/experiments", fromStartTime=SINCE))
    assert [(e["id"], e["name"], e["datasetId"], e["itemCount"]) for e in experiments] == [
        (result.experiment_id, "local-run", None, 2)
    ]


async def _data(api: Api, path: str, **params: Any) -> list[dict[str, Any]]:
    reply = await api.get(path, **params)
    assert reply.status == 200, reply.body
    return reply.body["data"]
