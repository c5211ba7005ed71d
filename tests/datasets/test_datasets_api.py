"""Dataset, item, run and experiment endpoints over raw HTTP, and the worker entry points."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from spyglass.collector.events import DatasetRunItemBody, DatasetRunItemCreate
from spyglass.collector.otel import ExperimentItem
from spyglass.collector.worker.experiments import record_experiment_items, record_run_item_events
from spyglass.query.datasets import experiment_run_id
from tests.harness import Harness, ProjectKeys
from tests.prompts.support import Api

DATASETS = "/api/public/v2/datasets"
ITEMS = "/api/public/dataset-items"
RUN_ITEMS = "/api/public/dataset-run-items"
SINCE = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _dataset(api: Api, name: str, **extra: Any) -> dict[str, Any]:
    reply = await api.post(DATASETS, {"name": name, **extra})
    assert reply.status == 200, reply.body
    return reply.body


async def _item(api: Api, dataset: str, **fields: Any) -> dict[str, Any]:
    reply = await api.post(ITEMS, {"datasetName": dataset, **fields})
    assert reply.status == 200, reply.body
    return reply.body


async def _total_items(api: Api, dataset: str) -> int:
    return (await api.get(ITEMS, datasetName=dataset)).body["meta"]["totalItems"]


# ---- datasets ------------------------------------------------------------------------------


async def test_dataset_responses_carry_every_required_field(api: Api, keys: ProjectKeys) -> None:
    created = await _dataset(api, "folder/one")
    assert set(created) >= {"id", "name", "description", "metadata", "projectId", "createdAt", "updatedAt"}
    assert created["metadata"] is None and created["projectId"] == keys.project_id
    fetched = await api.get(f"{DATASETS}/folder%2Fone")
    assert fetched.status == 200 and fetched.body["id"] == created["id"]
    item = await _item(api, "folder/one", input="hi")
    assert item["mediaReferences"] == [] and item["metadata"] is None and item["expectedOutput"] is None
    assert item["datasetName"] == "folder/one" and item["status"] == "ACTIVE"


async def test_duplicate_names_conflict_but_an_identical_retry_is_fine(api: Api) -> None:
    first = await _dataset(api, "dup", description="d", metadata={"k": 1})
    retry = await api.post(DATASETS, {"name": "dup", "description": "d", "metadata": {"k": 1}})
    assert retry.status == 200 and retry.body["id"] == first["id"]
    clash = await api.post(DATASETS, {"name": "dup", "description": "other"})
    assert clash.status == 409 and "'dup' already exists" in clash.message
    assert (await api.get(f"{DATASETS}/dup")).body["description"] == "d"


async def test_list_datasets_pages(api: Api) -> None:
    for i in range(3):
        await _dataset(api, f"page-{i}")
    page2 = (await api.get(DATASETS, limit=2, page=2)).body
    assert page2["meta"] == {"page": 2, "limit": 2, "totalItems": 3, "totalPages": 2}
    assert len(page2["data"]) == 1


async def test_invalid_dataset_bodies(api: Api) -> None:
    for body, needle in (
        ({"description": "no name"}, "'name'"),
        ({"name": "s", "inputSchema": {"type": "strnig"}}, "unknown type 'strnig'"),
        ({"name": "s", "expectedOutputSchema": {"$ref": "http://elsewhere"}}, "local $ref"),
        ({"name": "s", "inputSchema": "not a schema"}, "must be an object"),
    ):
        reply = await api.post(DATASETS, body)
        assert reply.status == 400 and needle in reply.message, (body, reply.body)
    assert (await api.get(f"{DATASETS}/s")).status == 404


# ---- items ---------------------------------------------------------------------------------


async def test_schema_violations_are_refused_and_nothing_is_written(api: Api) -> None:
    await _dataset(
        api,
        "typed",
        inputSchema={"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        expectedOutputSchema={"type": "number", "minimum": 0},
    )
    ok = await _item(api, "typed", input={"q": "fine"}, expectedOutput=3)
    bad_input = await api.post(ITEMS, {"datasetName": "typed", "input": {"q": 5}})
    assert bad_input.status == 400 and "input.q: expected string, got integer" in bad_input.message
    missing = await api.post(ITEMS, {"datasetName": "typed", "input": {}})
    assert missing.status == 400 and "missing required property 'q'" in missing.message
    bad_output = await api.post(ITEMS, {"datasetName": "typed", "input": {"q": "x"}, "expectedOutput": -1})
    assert bad_output.status == 400 and "expectedOutput: must be >= 0" in bad_output.message
    # An update that breaks the schema leaves the stored item as it was.
    broken = await api.post(ITEMS, {"datasetName": "typed", "id": ok["id"], "input": {"q": 1}})
    assert broken.status == 400
    assert await _total_items(api, "typed") == 1
    assert (await api.get(f"{ITEMS}/{ok['id']}")).body["input"] == {"q": "fine"}


async def test_upsert_changes_only_the_fields_sent(api: Api) -> None:
    await _dataset(api, "ups")
    item = await _item(api, "ups", id="fixed-id", input={"x": 1}, expectedOutput="one", metadata={"m": 1})
    assert item["id"] == "fixed-id"
    archived = await _item(api, "ups", id="fixed-id", status="ARCHIVED")
    assert archived["status"] == "ARCHIVED" and archived["input"] == {"x": 1} and archived["metadata"] == {"m": 1}
    cleared = await _item(api, "ups", id="fixed-id", metadata=None, input={"x": 2})
    assert cleared["metadata"] is None and cleared["input"] == {"x": 2} and cleared["status"] == "ARCHIVED"
    assert cleared["version"] > item["version"]
    assert await _total_items(api, "ups") == 1


async def test_item_ids_cannot_move_between_datasets(api: Api) -> None:
    await _dataset(api, "home")
    await _dataset(api, "away")
    await _item(api, "home", id="shared", input=1)
    clash = await api.post(ITEMS, {"datasetName": "away", "id": "shared", "input": 2})
    assert clash.status == 409 and "'home'" in clash.message
    assert (await api.get(f"{ITEMS}/shared")).body["input"] == 1
    assert await _total_items(api, "away") == 0


async def test_unknown_dataset_and_item(api: Api) -> None:
    no_dataset = await api.post(ITEMS, {"datasetName": "ghost", "input": 1})
    assert no_dataset.status == 404 and "'ghost'" in no_dataset.message
    assert (await api.get(ITEMS, datasetName="ghost")).status == 404
    assert (await api.get(f"{DATASETS}/ghost")).status == 404
    missing = await api.get(f"{ITEMS}/nope")
    assert missing.status == 404 and "'nope'" in missing.message
    bad_status = await api.post(ITEMS, {"datasetName": "ghost", "status": "DONE"})
    assert bad_status.status == 400 and "ACTIVE or ARCHIVED" in bad_status.message


async def test_items_can_be_read_as_of_a_past_time(api: Api) -> None:
    await _dataset(api, "history")
    a = await _item(api, "history", id="a", input="a1")
    await _item(api, "history", id="b", input="b1")
    await asyncio.sleep(0.05)
    checkpoint = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await _item(api, "history", id="a", input="a2")
    deleted = await api.delete(f"{ITEMS}/b")
    assert deleted.status == 200 and "deleted" in deleted.message
    await _item(api, "history", id="c", input="c1")

    now = {i["id"]: i["input"] for i in (await api.get(ITEMS, datasetName="history")).body["data"]}
    assert now == {"a": "a2", "c": "c1"}
    then = (await api.get(ITEMS, datasetName="history", version=checkpoint.isoformat())).body
    assert {i["id"]: i["input"] for i in then["data"]} == {"a": "a1", "b": "b1"}
    assert then["meta"]["totalItems"] == 2
    assert next(i for i in then["data"] if i["id"] == "a")["version"] == a["version"]
    assert (await api.delete(f"{ITEMS}/b")).status == 404


# ---- runs through the REST API -------------------------------------------------------------


async def test_dataset_run_items_create_the_run_by_name(api: Api, keys: ProjectKeys) -> None:
    dataset = await _dataset(api, "linked")
    item = await _item(api, "linked", input="q")
    body = {
        "runName": "manual",
        "runDescription": "by hand",
        "metadata": {"m": 1},
        "datasetItemId": item["id"],
        "traceId": "trace-1",
        "observationId": "obs-1",
    }
    first = await api.post(RUN_ITEMS, body)
    assert first.status == 200, first.body
    run_id = first.body["datasetRunId"]
    # The Python SDK derives the same id for the same run name, so both paths meet.
    assert run_id == experiment_run_id(keys.project_id, dataset["id"], "manual")
    assert first.body["datasetRunName"] == "manual" and first.body["traceId"] == "trace-1"
    again = await api.post(RUN_ITEMS, body)
    assert again.body["id"] == first.body["id"]
    other = await api.post(RUN_ITEMS, {**body, "traceId": "trace-2", "observationId": None, "metadata": None})
    assert other.body["datasetRunId"] == run_id and other.body["id"] != first.body["id"]

    run = (await api.get("/api/public/datasets/linked/runs/manual")).body
    assert run["description"] == "by hand" and run["metadata"] == {"m": 1}
    assert sorted(i["traceId"] for i in run["datasetRunItems"]) == ["trace-1", "trace-2"]
    listed = (await api.get(RUN_ITEMS, datasetId=dataset["id"], runName="manual", limit=1)).body
    assert listed["meta"]["totalItems"] == 2 and len(listed["data"]) == 1

    assert (await api.delete("/api/public/datasets/linked/runs/manual")).status == 200
    assert (await api.get("/api/public/datasets/linked/runs/manual")).status == 404
    assert (await api.get("/api/public/datasets/linked/runs")).body["data"] == []


async def test_bad_run_item_requests(api: Api) -> None:
    await _dataset(api, "runs-bad")
    item = await _item(api, "runs-bad", input="q")
    unknown = await api.post(RUN_ITEMS, {"runName": "r", "datasetItemId": "ghost", "traceId": "t"})
    assert unknown.status == 404 and "'ghost'" in unknown.message
    no_trace = await api.post(RUN_ITEMS, {"runName": "r", "datasetItemId": item["id"], "observationId": "o"})
    assert no_trace.status == 400 and "traceId" in no_trace.message
    no_name = await api.post(RUN_ITEMS, {"datasetItemId": item["id"], "traceId": "t"})
    assert no_name.status == 400 and "runName" in no_name.message
    assert (await api.get(RUN_ITEMS, runName="r")).status == 400
    assert (await api.get("/api/public/datasets/runs-bad/runs")).body["data"] == []


# ---- the ingestion worker's entry points ---------------------------------------------------


def _span(run: str, item: str, trace: str, span: str, start: float, **extra: Any) -> ExperimentItem:
    return ExperimentItem(
        trace_id=trace,
        observation_id=span,
        start_time=start,
        environment="sdk-experiment",
        experiment_id=run,
        experiment_name=extra.pop("name", "span-run"),
        dataset_id=extra.pop("dataset_id", None),
        item_id=item,
        item_root_observation_id=extra.pop("root", None),
        **extra,
    )


async def test_experiment_spans_are_recorded_idempotently(spyglass: Harness, keys: ProjectKeys, api: Api) -> None:
    dataset = await _dataset(api, "spans")
    item = await _item(api, "spans", input="q")
    now = time.time()
    spans = [
        _span(
            "run-x",
            item["id"],
            "t1",
            "root-1",
            now,
            dataset_id=dataset["id"],
            root="task-1",
            experiment_metadata='{"k": "v"}',
            experiment_description="from spans",
            item_expected_output='"A"',
        ),
        _span("run-x", item["id"], "t1", "task-1", now + 1, dataset_id=dataset["id"], root="task-1"),
        _span("run-x", "local-hash", "t2", "root-2", now + 2, dataset_id=dataset["id"], root="task-2"),
        _span("run-y", "h", "t3", "s3", now, dataset_id="not-a-dataset-here"),
        _span("", "ignored", "t4", "s4", now),
    ]
    pool = spyglass.stores.pg
    await record_experiment_items(pool, keys.project_id, spans)
    await record_experiment_items(pool, keys.project_id, list(reversed(spans)))  # a replay

    run = (await api.get("/api/public/datasets/spans/runs/span-run")).body
    assert run["id"] == "run-x" and run["description"] == "from spans" and run["metadata"] == {"k": "v"}
    items = sorted(run["datasetRunItems"], key=lambda i: i["traceId"])
    assert [(i["traceId"], i["observationId"]) for i in items] == [("t1", "task-1"), ("t2", "task-2")]

    experiments = (await api.get("/api/public/experiments", fromStartTime=SINCE)).body["data"]
    assert {e["id"]: (e["datasetId"], e["itemCount"]) for e in experiments} == {
        "run-x": (dataset["id"], 2),
        "run-y": (None, 1),  # an unknown dataset does not lose the experiment
    }
    x_items = (
        await api.get("/api/public/experiment-items", fromStartTime=SINCE, experimentId="run-x", fields="io")
    ).body["data"]
    t1 = next(i for i in x_items if i["traceId"] == "t1")
    assert t1["expectedOutput"] == "A"
    assert t1["startTime"] < t1["endTime"]  # the window spans both of its spans


async def test_run_item_events_are_stored_and_bad_ones_dropped(spyglass: Harness, keys: ProjectKeys, api: Api) -> None:
    await _dataset(api, "events")
    item = await _item(api, "events", input="q")

    def event(item_id: str, trace: str) -> DatasetRunItemCreate:
        body = DatasetRunItemBody(run_name="from-events", dataset_item_id=item_id, trace_id=trace)
        return DatasetRunItemCreate(id=f"e-{trace}", timestamp=datetime.now(UTC), body=body)

    events = [event(item["id"], "tr-1"), event("missing-item", "tr-2"), event(item["id"], "tr-1")]
    await record_run_item_events(spyglass.stores.pg, keys.project_id, events)
    run = (await api.get("/api/public/datasets/events/runs/from-events")).body
    assert [i["traceId"] for i in run["datasetRunItems"]] == ["tr-1"]


async def test_experiment_pages_follow_the_cursor(spyglass: Harness, keys: ProjectKeys, api: Api) -> None:
    now = time.time()
    spans = [_span(f"page-run-{i}", "h", f"pt-{i}", f"ps-{i}", now + i, name=f"page-run-{i}") for i in range(5)]
    await record_experiment_items(spyglass.stores.pg, keys.project_id, spans)
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params: dict[str, Any] = {"fromStartTime": SINCE, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/api/public/experiments", **params)).body
        seen += [e["id"] for e in page["data"]]
        cursor = page["meta"].get("cursor")
        if not cursor:
            break
    assert seen == [f"page-run-{i}" for i in (4, 3, 2, 1, 0)]
    items = (await api.get("/api/public/experiment-items", fromStartTime=SINCE, limit=3)).body
    assert len(items["data"]) == 3 and items["meta"]["cursor"]
    assert (await api.get("/api/public/experiments")).status == 400
    assert (await api.get("/api/public/experiments", fromStartTime=SINCE, cursor="%%%")).status == 400
