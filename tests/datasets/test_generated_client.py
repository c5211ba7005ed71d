"""Every response of these endpoints parsed by the latest SDK's generated API client (the
contract: its pydantic models fail on a missing required field or a wrong discriminator)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.harness import Harness, ProjectKeys
from tests.prompts.support import langfuse_client


async def test_generated_client_parses_every_response(spyglass: Harness, keys: ProjectKeys) -> None:
    def run() -> dict[str, Any]:
        lf = langfuse_client(spyglass, keys)
        api = lf.api
        try:
            lf.create_prompt(name="contract/text", prompt="t", labels=["production"], tags=["x"])
            lf.create_prompt(name="contract/chat", type="chat", prompt=[{"role": "user", "content": "c"}])
            got: dict[str, Any] = {
                "prompt": api.prompts.get("contract%2Ftext"),
                "prompt_list": api.prompts.list(tag="x"),
                "prompt_update": api.prompt_version.update("contract%2Fchat", 1, new_labels=["staging"]),
            }
            api.prompts.delete("contract%2Fchat")
            got["after_delete"] = api.prompts.list()

            api.datasets.create(name="contract/ds", metadata={"a": 1})
            item = api.dataset_items.create(dataset_name="contract/ds", input={"q": 1}, expected_output=1)
            got["item"] = api.dataset_items.get(item.id)
            got["items"] = api.dataset_items.list(dataset_name="contract/ds")
            got["dataset"] = api.datasets.get("contract%2Fds")
            got["datasets"] = api.datasets.list()

            dataset = lf.get_dataset("contract/ds")
            result = dataset.run_experiment(
                name="contract",
                run_name="contract-run",
                task=lambda *, item, **_: item.input["q"],
                evaluators=[lambda *, output, **_: {"name": "is_one", "value": float(output == 1)}],
                run_evaluators=[lambda *, item_results, **_: {"name": "n", "value": float(len(item_results))}],
                metadata={"m": "v"},
            )
            lf.flush()
            got["experiment_id"] = result.experiment_id
            got["deleted_item"] = api.dataset_items.delete(item.id)
            return got
        finally:
            lf.shutdown()

    got = await asyncio.to_thread(run)
    assert got["prompt"].type == "text" and got["prompt"].name == "contract/text"
    assert [p.name for p in got["prompt_list"].data] == ["contract/text"]
    assert got["prompt_update"].type == "chat" and "staging" in got["prompt_update"].labels
    assert [p.name for p in got["after_delete"].data] == ["contract/text"]
    assert got["item"].media_references == [] and got["item"].dataset_name == "contract/ds"
    assert got["items"].meta.total_items == 1
    assert got["dataset"].metadata == {"a": 1} and got["datasets"].meta.total_items == 1
    assert got["deleted_item"].message

    await spyglass.wait_idle()
    since = datetime.now(UTC) - timedelta(hours=1)

    def read_experiments() -> tuple[Any, Any]:
        lf = langfuse_client(spyglass, keys, tracing_enabled=False)
        try:
            experiments = lf.api.experiments.list(from_start_time=since, fields="core,metadata,scores")
            items = lf.api.experiments.list_items(
                from_start_time=since,
                experiment_id=got["experiment_id"],
                fields="core,dataset,io,metadata,itemMetadata,experimentMetadata,scores",
            )
            return experiments, items
        finally:
            lf.shutdown()

    experiments, items = None, None
    for _ in range(50):
        experiments, items = await asyncio.to_thread(read_experiments)
        if experiments.data and experiments.data[0].scores and items.data and items.data[0].scores:
            break
        await asyncio.sleep(0.1)
    assert experiments is not None and items is not None
    [experiment] = experiments.data
    assert experiment.id == got["experiment_id"] and experiment.item_count == 1
    assert experiment.metadata == {"m": "v"}
    assert [(s.name, s.value, s.subject.kind) for s in experiment.scores] == [("n", 1.0, "experiment")]
    [item] = items.data
    assert item.experiment_name == "contract-run" and item.input == {"q": 1} and item.output == 1
    assert item.expected_output == 1 and item.experiment_metadata == {"m": "v"}
    assert [(s.name, s.value, s.subject.kind) for s in item.scores] == [("is_one", 1.0, "observation")]
