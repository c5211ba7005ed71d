"""Decoding, mapping, pricing and encoding OTLP payloads off the serving process.

Everything done per span is pure CPU (~100 µs a span all told). Run in the process that also
serves HTTP, it would hold the GIL for tens of milliseconds per payload and stall every
request; in a thread it would still share the GIL. A small pool of spawned processes (spawned,
never forked: the parent holds chDB's threads) turns each payload into insert-ready bytes, so
the worker only folds the few trace patches, inserts and acknowledges.

Rows that need the worker's own state come back as structs instead (generations that name a
prompt version: the prompt id lives in PostgreSQL).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor

import msgspec

from spyglass.collector.compression import InflateError, inflate
from spyglass.collector.config import CollectorConfig
from spyglass.collector.otel import ExperimentItem, OtlpDecodeError, TracePatch, decode_otlp, map_export
from spyglass.collector.otel.log_events import event_row, is_genai_event, log_event_stem
from spyglass.collector.otel.logs import decode_logs
from spyglass.collector.pricing import ModelDefinition, ModelMatcher
from spyglass.collector.worker.cpu_priority import lower_current
from spyglass.collector.worker.encode import json_each_row
from spyglass.collector.worker.price import price_row
from spyglass.store.clickhouse.rows import ObservationRow

_CONTENT_TYPE = {"pb": "application/x-protobuf", "json": "application/json"}
# The accept-time body limits' default; the worker passes the configured one.
DEFAULT_MAX_INFLATED = CollectorConfig().largest_body_bytes


class ProjectModels(msgspec.Struct, frozen=True, array_like=True):
    """A project's own models as the worker last loaded them; `version` changes whenever the
    worker reloads them (after a models-changed notification), so a mapping process knows
    when to recompile its copy."""

    version: int
    models: tuple[ModelDefinition, ...] = ()


class MapTask(msgspec.Struct, frozen=True, array_like=True):
    body: bytes
    fmt: str
    project_id: str
    received_at: float
    models: ProjectModels
    # How `body` is stored in the raw log (`RawRef.encoding`): "gzip" bodies are inflated here.
    encoding: str = "identity"
    # The raw log's source (`RawRef.source`): "otel" (traces) or "otel-logs".
    source: str = "otel"
    # The raw-log key: log events take their ids from it (`otel/log_events.py`).
    key: str = ""


class MappedPayload(msgspec.Struct, kw_only=True):
    """One OTLP payload, ready to insert."""

    # Priced observations as JSONEachRow for the `observations` table, one per span id.
    rows: bytes = b""
    row_count: int = 0
    # Every observation id of the payload (rows and held), for the worker's merge cache.
    ids: list[str] = []
    # Rows that still need the worker (prompt linking); priced already.
    held: list[ObservationRow] = []
    traces: dict[str, TracePatch] = {}
    experiments: list[ExperimentItem] = []
    spans: int = 0
    rejected_count: int = 0
    # Of those, spans the mapper failed on (a bug, logged in the mapping process).
    unmappable_count: int = 0
    # UTC days (days since the epoch) of the `rows`' start times: which cached metrics days the
    # insert changes (query/metrics/day_cache.py).
    days: list[int] = []
    # (trace id, observation id) of generations that came with neither input nor output: their
    # GenAI log events, if any arrived first, supply them (the worker looks).
    io_missing: list[tuple[str, str]] = []
    # A logs payload's GenAI events (also in `rows`): the worker composes their observation's
    # input/output from them.
    genai_events: list[ObservationRow] = []


# Per mapping process: the built-in catalog is compiled once, project models on first use and
# again whenever the worker sends a newer version.
_matcher: ModelMatcher | None = None
_versions: dict[str, int] = {}


def _project_matcher(project_id: str, models: ProjectModels) -> ModelMatcher:
    global _matcher
    if _matcher is None:
        _matcher = ModelMatcher()
    if _versions.get(project_id) != models.version:
        _matcher.set_project_models(project_id, list(models.models))
        _versions[project_id] = models.version
    return _matcher


def needs_worker(row: ObservationRow) -> bool:
    """Whether the row needs state only the worker has (a prompt id from PostgreSQL)."""
    return bool(row.prompt_name) and row.prompt_version is not None and row.prompt_id is None


def prompt_to_link(row: ObservationRow) -> tuple[str, int] | None:
    """The (prompt name, version) whose id the row still needs (`needs_worker`), else None."""
    name, version = row.prompt_name, row.prompt_version
    if name and version is not None and row.prompt_id is None:
        return name, version
    return None


def map_payload(task: MapTask, max_inflated: int = DEFAULT_MAX_INFLATED) -> MappedPayload | str:
    """A payload's insert-ready rows, or the reason it can never be decoded (a str: errors
    cross processes as text, since exception classes with their own constructors do not
    unpickle reliably).

    A gzip body was checked against the body limit when it was accepted, but a raw-log file
    read back by a replay is whatever is on disk: inflating stops at `max_inflated`, so a zip
    bomb is a dead letter, not a mapping process out of memory."""
    try:
        return _map_payload(task, max_inflated)
    finally:
        _collect_now_and_then()


def _map_payload(task: MapTask, max_inflated: int) -> MappedPayload | str:
    body = task.body
    if task.encoding != "identity":
        try:
            body = inflate(body, task.encoding, max_inflated)
        except (InflateError, ValueError) as exc:
            return f"cannot inflate {task.encoding} payload: {exc}"
    if task.source == "otel-logs":
        return _map_logs(task, body)
    try:
        export = decode_otlp(body, _CONTENT_TYPE[task.fmt])
    except OtlpDecodeError as exc:
        return str(exc)
    del body  # the inflated bytes are not needed while mapping
    result = map_export(export, project_id=task.project_id, received_at=task.received_at)
    matcher = _project_matcher(task.project_id, task.models)
    # One row per span id (the last wins, as when the worker kept rows in a dict): rows of one
    # payload share event_ts, so duplicates would otherwise tie in ReplacingMergeTree.
    by_id: dict[str, ObservationRow] = {}
    for row in result.observations:
        by_id[row.id] = row
    ready: list[ObservationRow] = []
    held: list[ObservationRow] = []
    for row in by_id.values():
        priced = price_row(matcher, task.project_id, row)
        (held if needs_worker(priced) else ready).append(priced)
    return MappedPayload(
        rows=json_each_row(ready),
        row_count=len(ready),
        ids=list(by_id),
        held=held,
        traces=result.traces,
        experiments=result.experiments,
        spans=len(result.observations),
        rejected_count=result.rejected_count,
        unmappable_count=result.unmappable_count,
        days=list({int(row.start_time // 86400) for row in ready}),
        io_missing=[
            (row.trace_id, row.id)
            for row in by_id.values()
            if row.type == "GENERATION" and row.input is None and row.output is None
        ],
    )


def _map_logs(task: MapTask, body: bytes) -> MappedPayload | str:
    """A logs payload's EVENT rows (log records of a trace; see `otel/log_events.py`)."""
    try:
        decoded = decode_logs(body, task.fmt)
    except OtlpDecodeError as exc:
        return str(exc)
    stem = log_event_stem(task.key)
    rows = [
        event_row(record, f"{stem}-{index:05d}", task.project_id, task.received_at)
        for index, record in enumerate(decoded.records)
    ]
    return MappedPayload(
        rows=json_each_row(rows),
        row_count=len(rows),
        ids=[row.id for row in rows],
        spans=decoded.total,
        rejected_count=decoded.rejections.count,
        days=list({int(row.start_time // 86400) for row in rows}),
        genai_events=[row for row in rows if row.parent_observation_id and is_genai_event(row.name)],
    )


# A mapping process allocates many containers a span, all freed by reference counting (spans,
# rows and their dicts are trees), yet the cyclic collector walked them again and again, chasing
# pointers through cold memory. Mapping processes turn it off and collect once every so many
# payloads, so a cycle is still freed.
_COLLECT_EVERY = 20
_payloads_since_collect = 0


def _collect_now_and_then() -> None:
    global _payloads_since_collect
    if gc.isenabled():  # mapping in a thread of the serving process: leave its collector alone
        return
    _payloads_since_collect += 1
    if _payloads_since_collect >= _COLLECT_EVERY:
        _payloads_since_collect = 0
        gc.collect()


def _init_process(parent: int, lower: bool) -> None:
    gc.disable()
    if lower:
        lower_current()
    _exit_with_parent(parent)


def _exit_with_parent(parent: int) -> None:
    """Mapping processes hold both ends of their task pipe, so a parent killed with SIGKILL
    leaves them waiting forever: watch the parent and leave when it is gone."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _warm_up() -> None:
    """Import the mapper and compile the price catalog before the first payload arrives."""
    _project_matcher("", ProjectModels(0))


class PayloadMapper:
    def __init__(self, processes: int, max_inflated: int = DEFAULT_MAX_INFLATED, *, lower: bool = False) -> None:
        """`lower`: run the mapping processes at idle CPU priority (`cpu_priority`). A mapping
        thread (`processes=0`) keeps its priority: lowered, it could be descheduled while it
        holds the GIL that the event loop waits for."""
        self._executor: Executor
        self._processes = processes
        self._max_inflated = max_inflated
        if processes > 0:
            self._executor = ProcessPoolExecutor(
                processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_process,
                initargs=(os.getpid(), lower),
            )
        else:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="otel-map")

    def warm_up(self) -> list[Future[None]]:
        """Start every mapping process now (each takes ~1 s to import and compile the catalog),
        not when the first payloads are waiting; returns at once, with the warm-ups' futures."""
        return [self._executor.submit(_warm_up) for _ in range(max(1, self._processes))]

    def submit(self, tasks: Sequence[MapTask]) -> list[Future[MappedPayload | str]]:
        """Start mapping now (results are awaited later, so the caller can overlap work)."""
        return [self._executor.submit(map_payload, t, self._max_inflated) for t in tasks]

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
