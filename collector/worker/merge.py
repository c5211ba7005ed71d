"""Raw payloads → ClickHouse rows: decode, map, merge with stored state, price.

OTel payloads are decoded, mapped, priced and encoded by the mapping processes (map_pool.py);
here only their trace patches fold into stored traces. Legacy /ingestion events merge here,
since they need the stored version of what they update.

Payloads are handled in receive order, so a later update always folds over an earlier one.
Rows get `event_ts` = the payload's receive time, which makes re-processing a payload (a
replay, a redelivery after a crash) produce rows no newer than what it produced before.

Several workers (scale-out) may merge into the same entity at once. A batch therefore holds a
merge lease (store/locks) on every trace, observation and score it merges, from reading their
stored versions until its rows are committed; such workers trust no cache (another worker may
have written since) and write each merged row newer than the stored one it merged into, so a
payload that reached this worker later than a newer one reached another is not lost behind it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import msgspec

from spyglass.collector.events import (
    OBSERVATION,
    SCORE,
    TRACE,
    DatasetRunItemCreate,
    EntityKey,
    IngestionEvent,
    ScoreConfig,
    ScoreRejected,
    group_events,
    merge_observation,
    merge_score,
    merge_trace,
    needs_wrapper_trace,
    wrapper_trace_event,
)
from spyglass.collector.events.score_config import check_score
from spyglass.collector.otel import ExperimentItem, TracePatch, merge_trace_patch
from spyglass.collector.otel.log_events import GENAI_PREFIX, compose_io
from spyglass.collector.pricing import ModelDefinition, ModelMatcher
from spyglass.collector.worker.consumer import (
    Done,
    EncodedRows,
    Failed,
    Payload,
    Prepared,
    ProjectDays,
    ProjectIds,
    RejectedScore,
)
from spyglass.collector.worker.encode import decode_rows
from spyglass.collector.worker.map_pool import MappedPayload, MapTask, PayloadMapper, ProjectModels, prompt_to_link
from spyglass.collector.worker.price import price_row
from spyglass.collector.worker.state import RowCache, read_child_events
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.rows import ObservationRow, ScoreRow, TraceRow
from spyglass.store.locks import LocalMergeLocks, MergeLocks

log = logging.getLogger("spyglass.worker")

# How long pricing legacy rows may hold the event loop before it yields.
_PRICE_SLICE_SECONDS = 0.005

_events_decoder = msgspec.json.Decoder(list[IngestionEvent])

ModelsLoader = Callable[[str], Awaitable[Sequence[ModelDefinition]]]
ExperimentSink = Callable[[str, list[ExperimentItem]], Awaitable[None]]
RunItemSink = Callable[[str, list[DatasetRunItemCreate]], Awaitable[None]]
PromptResolver = Callable[[str, list[tuple[str, int]]], Awaitable[dict[tuple[str, int], str]]]
ScoreConfigLoader = Callable[[str, list[str]], Awaitable[dict[str, ScoreConfig]]]

# A lease outlives any sane batch (merge + insert take seconds even under load); a crashed
# holder's keys free up after it. Waiting longer than a few batches means heavy contention:
# the batch goes back to the queue with backoff instead.
LEASE_TTL_SECONDS = 60.0
LEASE_WAIT_SECONDS = 20.0


def encode_events(events: Sequence[IngestionEvent]) -> bytes:
    """The raw-log form of validated ingestion events (decoded by `decode_events`)."""
    return msgspec.json.encode(list(events))


def decode_events(body: bytes) -> list[IngestionEvent]:
    return _events_decoder.decode(body)


class _Batch:
    """Mutable working set of one prepare() call."""

    def __init__(self) -> None:
        self.observations: dict[tuple[str, str], ObservationRow] = {}
        # Stored versions of observations that legacy updates merge into.
        self.stored_observations: dict[tuple[str, str], ObservationRow] = {}
        # Stored traces that legacy observations without a trace may wrap (read, not rewritten).
        self.stored_traces: dict[tuple[str, str], TraceRow] = {}
        # Observations this batch writes as structs (legacy merges, held OTel rows).
        self.touched: set[tuple[str, str]] = set()
        # Of those, the ones still to be priced (legacy merges; OTel rows come priced).
        self.unpriced: set[tuple[str, str]] = set()
        # OTel observations already encoded by the mapping processes.
        self.encoded: list[bytes] = []
        self.encoded_rows = 0
        self.encoded_ids: list[ProjectIds] = []
        self.encoded_days: list[ProjectDays] = []
        # The dataType each score's client declared (None: inferred from the value).
        self.declared_types: dict[tuple[str, str], str | None] = {}
        self.traces: dict[tuple[str, str], TraceRow] = {}
        self.scores: dict[tuple[str, str], ScoreRow] = {}
        self.experiments: dict[str, list[ExperimentItem]] = defaultdict(list)
        self.run_items: dict[str, list[DatasetRunItemCreate]] = defaultdict(list)
        # event_ts of the stored versions merged into, by (entity, project, id).
        self.stored_versions: dict[tuple[str, str, str], float] = {}


class Started:
    """A batch whose OTel payloads are being mapped in the mapping processes."""

    def __init__(self, ordered: list[Payload], mapping: dict[int, asyncio.Future[MappedPayload | str]]) -> None:
        self.ordered = ordered
        self.mapping = mapping


Parsed = MappedPayload | dict[EntityKey, list[IngestionEvent]]


class RowProcessor:
    def __init__(
        self,
        ch: ClickHouse,
        *,
        load_models: ModelsLoader | None = None,
        record_experiments: ExperimentSink | None = None,
        record_run_items: RunItemSink | None = None,
        resolve_prompts: PromptResolver | None = None,
        load_score_configs: ScoreConfigLoader | None = None,
        mapper: PayloadMapper | None = None,
        locks: MergeLocks | None = None,
        cache_entries: int = 50_000,
    ) -> None:
        self._ch = ch
        self._locks: MergeLocks = locks or LocalMergeLocks()
        if not self._locks.exclusive:
            # Other workers write the same entities: a cached row may be stale.
            cache_entries = 0
        self.traces = RowCache(TraceRow, cache_entries)
        self.observations = RowCache(ObservationRow, cache_entries)
        self.scores = RowCache(ScoreRow, cache_entries)
        # Prices legacy rows here; OTel rows are priced by the mapping processes, which get
        # each project's models (with a version) along with every payload.
        self.matcher = ModelMatcher()
        self._models: dict[str, ProjectModels] = {}
        self._model_versions = itertools.count(1)
        self._load_models = load_models
        self._record_experiments = record_experiments
        self._record_run_items = record_run_items
        self._resolve_prompts = resolve_prompts
        self._load_score_configs = load_score_configs
        self.rejected_scores = 0
        self.unmappable_spans = 0
        self._mapper = mapper or PayloadMapper(0)

    # -- Processor protocol ------------------------------------------------------------------

    async def start(self, payloads: Sequence[Payload]) -> Started:
        """Hand the batch's OTel payloads to the mapping processes; `finish` folds the results.
        Starting batch N+1 while batch N is still being inserted keeps both cores busy."""
        ordered = sorted(payloads, key=lambda p: p.ref.received_us)
        otel = [p for p in ordered if p.ref.source in _MAPPED_SOURCES]
        tasks = []
        for p in otel:
            ref = p.ref
            models = await self._project_models(ref.project_id)
            tasks.append(
                MapTask(
                    p.body, ref.fmt, ref.project_id, ref.received_us / 1e6, models, ref.encoding, ref.source, ref.key
                )
            )
        futures = [asyncio.wrap_future(f) for f in self._mapper.submit(tasks)]
        return Started(ordered, {id(p): f for p, f in zip(otel, futures, strict=True)})

    async def prepare(self, payloads: Sequence[Payload]) -> Prepared:
        return await self.finish(await self.start(payloads))

    async def finish(self, started: Started) -> Prepared:
        prepared = Prepared(done=[], failed=[])
        batch = _Batch()
        parsed: list[tuple[Payload, Parsed, int]] = []
        for p in started.ordered:
            if p.ref.source in _MAPPED_SOURCES:
                result = await started.mapping[id(p)]
                if isinstance(result, str):
                    prepared.failed.append(Failed(p, f"undecodable otel payload: {result}"))
                else:
                    parsed.append((p, result, result.spans))
                continue
            try:
                events = decode_events(p.body)
            except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
                prepared.failed.append(Failed(p, f"undecodable {p.ref.source} payload: {exc}"))
                continue
            parsed.append((p, group_events(events), len(events)))
        wanted = _entities(parsed)
        genai = _GenAiTargets.of(parsed)
        lease = await self._locks.acquire(
            [f"{pid}:{_STORED_AS.get(entity, entity)}:{i}" for (pid, entity), ids in wanted.items() for i in ids]
            + genai.lock_keys(),
            ttl=LEASE_TTL_SECONDS,
            wait=LEASE_WAIT_SECONDS,
        )
        try:
            prepared = await self._merge(parsed, wanted, genai, batch, prepared)
        except BaseException:
            await self._locks.release(lease)
            raise
        prepared.lease = lease
        return prepared

    async def release(self, prepared: Prepared) -> None:
        """Free the batch's merge lease (after its rows are committed, or it failed)."""
        lease, prepared.lease = prepared.lease, None
        if lease is not None and lease.keys:
            try:
                await self._locks.release(lease)
            except Exception as exc:
                # The rows are committed; an unreleased lease only makes others wait for its TTL.
                log.warning("releasing a merge lease of %d keys failed: %s", len(lease.keys), exc)

    async def _merge(
        self,
        parsed: list[tuple[Payload, Parsed, int]],
        wanted: dict[tuple[str, str], set[str]],
        genai: _GenAiTargets,
        batch: _Batch,
        prepared: Prepared,
    ) -> Prepared:
        # Merges need the stored version of every entity the batch touches: one read per table
        # and project for the whole batch (most hits come from the worker's own cache).
        await self._load_state(wanted, batch)
        stored_events = await self._stored_genai_events(genai)
        # Only legacy payloads and GenAI log events merge into observations (OTel rows come
        # whole): the OTel rows they merge into are needed as structs.
        legacy_observations = {(pid, i) for (pid, entity), ids in wanted.items() if entity == OBSERVATION for i in ids}
        legacy_observations |= {key for key, events in stored_events.items() if events}
        for p, data, items in parsed:
            pid = p.ref.project_id
            version = p.ref.received_us / 1e6
            if isinstance(data, MappedPayload):
                self._fold_otel(pid, data, batch, legacy_observations)
                for event in data.genai_events:
                    stored_events[(pid, event.parent_observation_id or "")].append(event)
                prepared.done.append(Done(p, items, data.rejected_count))
                self.unmappable_spans += data.unmappable_count
            else:
                self._fold_events(pid, data, version, batch)
                prepared.done.append(Done(p, items, 0))
                # A legacy batch can be thousands of events: let the event loop serve requests.
                await asyncio.sleep(0)
        await self._apply_genai_io(stored_events, batch)
        await self._price(batch)
        await self._link_prompts(batch)
        prepared.rejected_scores = await self._check_score_configs(batch)
        for pid, items_ in batch.experiments.items():
            if self._record_experiments is not None:
                await self._record_experiments(pid, items_)
        for pid, run_items in batch.run_items.items():
            if self._record_run_items is not None:
                await self._record_run_items(pid, run_items)
        prepared.traces = list(batch.traces.values())
        prepared.observations = [row for key, row in batch.observations.items() if key in batch.touched]
        prepared.scores = list(batch.scores.values())
        if not self._locks.exclusive:
            prepared.traces = _newer_than_stored(prepared.traces, TRACE, batch.stored_versions)
            prepared.observations = _newer_than_stored(prepared.observations, OBSERVATION, batch.stored_versions)
            prepared.scores = _newer_than_stored(prepared.scores, SCORE, batch.stored_versions)
        if batch.encoded:
            prepared.encoded = [EncodedRows("observations", batch.encoded, batch.encoded_rows)]
        prepared.encoded_ids = batch.encoded_ids
        prepared.encoded_days = batch.encoded_days
        return prepared

    def forget_project(self, project_id: str) -> None:
        """Drop cached rows of a project whose rows were deleted, so merges re-read the store
        (where tombstones hide them) instead of reviving deleted content."""
        self.traces.forget_project(project_id)
        self.observations.forget_project(project_id)
        self.scores.forget_project(project_id)

    def listening(self, _up: bool) -> None:
        """The change notifications' connection came up or went down: those sent meanwhile are
        lost, so forget every cached row and model (they are read again when needed)."""
        for cache in (self.traces, self.observations, self.scores):
            cache.clear()
        for project_id in list(self._models):
            self.models_changed(project_id)

    def models_changed(self, project_id: str) -> None:
        """A project's models changed (NOTIFY from any process): reload them for new data."""
        self._models.pop(project_id, None)
        self.matcher.invalidate(project_id)

    def committed(self, prepared: Prepared) -> None:
        self.traces.put_many(prepared.traces)
        # Observations written as encoded rows are not kept as structs (nothing in OTel merges
        # into them); drop older cached versions so a later legacy update re-reads the store.
        for entry in prepared.encoded_ids:
            self.observations.drop(entry.project_id, entry.ids)
        self.observations.put_many(prepared.observations)
        self.scores.put_many(prepared.scores)

    # -- models ------------------------------------------------------------------------------

    async def _project_models(self, project_id: str) -> ProjectModels:
        models = self._models.get(project_id)
        if models is not None:
            return models
        loaded = tuple(await self._load_models(project_id)) if self._load_models else ()
        models = ProjectModels(next(self._model_versions), loaded)
        self.matcher.set_project_models(project_id, list(loaded))
        self._models[project_id] = models
        return models

    # -- stored state ------------------------------------------------------------------------

    async def _load_state(self, wanted: dict[tuple[str, str], set[str]], batch: _Batch) -> None:
        caches: dict[str, tuple[RowCache[Any], dict[tuple[str, str], Any]]] = {
            TRACE: (self.traces, batch.traces),
            OBSERVATION: (self.observations, batch.stored_observations),
            SCORE: (self.scores, batch.scores),
            WRAPPER_TRACE: (self.traces, batch.stored_traces),
        }
        for (pid, entity), ids in wanted.items():
            cache, target = caches[entity]
            kind = _STORED_AS.get(entity, entity)
            for row_id, row in (await cache.load(self._ch, pid, list(ids))).items():
                target[(pid, row_id)] = row
                batch.stored_versions[(kind, pid, row_id)] = row.event_ts

    # -- sources -----------------------------------------------------------------------------

    def _fold_otel(
        self, pid: str, result: MappedPayload, batch: _Batch, legacy_observations: set[tuple[str, str]]
    ) -> None:
        if result.rows:
            batch.encoded.append(result.rows)
            batch.encoded_rows += result.row_count
        batch.encoded_ids.append(ProjectIds(pid, result.ids))
        batch.encoded_days.append(ProjectDays(pid, result.days))
        if legacy_observations and any((pid, i) in legacy_observations for i in result.ids):
            # A legacy update later in this batch merges into one of these rows: it needs them
            # as structs (rare: both SDK generations writing one observation in one batch).
            for row in decode_rows(result.rows):
                key = (pid, row.id)
                batch.observations[key] = row
                batch.touched.discard(key)
                batch.unpriced.discard(key)
        for row in result.held:
            key = (pid, row.id)
            batch.observations[key] = row
            batch.touched.add(key)
            batch.unpriced.discard(key)
        for patch in result.traces.values():
            key = (pid, patch.trace_id)
            batch.traces[key] = merge_trace_patch(batch.traces.get(key), patch)
        if result.experiments:
            batch.experiments[pid].extend(result.experiments)

    def _fold_events(
        self, pid: str, groups: dict[EntityKey, list[IngestionEvent]], version: float, batch: _Batch
    ) -> None:
        wrappers: list[ObservationRow] = []
        for (entity, body_id), group in groups.items():
            key = (pid, body_id)
            if entity == TRACE:
                batch.traces[key] = merge_trace(batch.traces.get(key), group, pid, version)  # type: ignore[arg-type]
            elif entity == OBSERVATION:
                current = batch.observations.get(key) or batch.stored_observations.get(key)
                row = merge_observation(current, group, pid, version)  # type: ignore[arg-type]
                batch.observations[key] = row
                batch.touched.add(key)
                batch.unpriced.add(key)
                if needs_wrapper_trace(row):
                    wrappers.append(row)
            elif entity == SCORE:
                batch.scores[key] = merge_score(batch.scores.get(key), group, pid, version)  # type: ignore[arg-type]
                batch.declared_types[key] = group[-1].body.data_type  # type: ignore[union-attr]
            else:
                batch.run_items[pid].extend(e for e in group if isinstance(e, DatasetRunItemCreate))
        if wrappers:
            # SDKs before v2 sent observations without a trace: each gets a trace of its own id
            # (its stored version, if any, was loaded up front: see `_entities`).
            for w in wrappers:
                key = (pid, w.trace_id)
                current_trace = batch.traces.get(key) or batch.stored_traces.get(key)
                batch.traces[key] = merge_trace(current_trace, [wrapper_trace_event(w)], pid, version)

    # -- GenAI log events -----------------------------------------------------------------------

    async def _stored_genai_events(self, genai: _GenAiTargets) -> dict[tuple[str, str], list[ObservationRow]]:
        """The stored GenAI events of every generation the batch may give input/output to."""
        events: dict[tuple[str, str], list[ObservationRow]] = defaultdict(list)
        for pid, pairs in genai.by_project().items():
            trace_ids = sorted({t for t, _ in pairs})
            for event in await read_child_events(self._ch, pid, trace_ids, sorted({o for _, o in pairs}), GENAI_PREFIX):
                events[(pid, event.parent_observation_id or "")].append(event)
        return events

    async def _apply_genai_io(self, events: dict[tuple[str, str], list[ObservationRow]], batch: _Batch) -> None:
        """Give an observation without input or output the ones its GenAI log events carry,
        whichever of the span and its events arrived first (see `otel/log_events.py`)."""
        for key, found in events.items():
            row = batch.observations.get(key) or batch.stored_observations.get(key)
            if row is None or not found or (row.input is not None and row.output is not None):
                continue  # the span has not arrived (it looks when it does), or needs nothing
            by_id = {event.id: event for event in found}
            composed_input, composed_output = compose_io(by_id.values())
            new_input = row.input if row.input is not None else composed_input
            new_output = row.output if row.output is not None else composed_output
            if new_input == row.input and new_output == row.output:
                continue
            # Newer than the span's own row (which may be written in this very batch) and than
            # the events it was made from.
            version = max((round(row.event_ts * 1_000_000) + 1) / 1_000_000, max(e.event_ts for e in by_id.values()))
            patched = msgspec.structs.replace(
                row, input=new_input, output=new_output, event_ts=version, updated_at=max(row.updated_at, version)
            )
            batch.observations[key] = patched
            batch.touched.add(key)
            batch.unpriced.add(key)  # usage may now be counted from the text
            if patched.parent_observation_id is None:
                await self._fill_trace_io(key[0], patched, version, batch)

    async def _fill_trace_io(self, pid: str, root: ObservationRow, version: float, batch: _Batch) -> None:
        """A root observation's input/output fill its trace's blanks, as a root span's do."""
        key = (pid, root.trace_id)
        trace = batch.traces.get(key)
        if trace is None:
            trace = (await self.traces.load(self._ch, pid, [root.trace_id])).get(root.trace_id)
        if trace is None:
            return
        patch = TracePatch(root.trace_id, pid, version, trace.timestamp, root_input=root.input, root_output=root.output)
        batch.traces[key] = merge_trace_patch(trace, patch)

    # -- score configs -----------------------------------------------------------------------

    async def _check_score_configs(self, batch: _Batch) -> list[RejectedScore]:
        """Scores that name a config take its name and type and must fit its range or categories.
        The receiver checked each score already; what fails now (the config was archived or deleted
        since) is left out and returned with its reason, for the loop to record as a dead letter."""
        rejected: list[RejectedScore] = []
        if self._load_score_configs is None:
            return rejected
        wanted: dict[str, set[str]] = defaultdict(set)
        for (pid, _), row in batch.scores.items():
            if row.config_id:
                wanted[pid].add(row.config_id)
        for pid, ids in wanted.items():
            configs = await self._load_score_configs(pid, sorted(ids))
            for key, row in list(batch.scores.items()):
                if key[0] != pid or not row.config_id:
                    continue
                result = check_score(row, configs.get(row.config_id), declared_data_type=batch.declared_types.get(key))
                if isinstance(result, ScoreRejected):
                    log.warning("score %s of project %s left out: %s", row.id, pid, result.message)
                    self.rejected_scores += 1
                    rejected.append(RejectedScore(row, result.message))
                    del batch.scores[key]
                else:
                    batch.scores[key] = result
        return rejected

    # -- prompts -----------------------------------------------------------------------------

    async def _link_prompts(self, batch: _Batch) -> None:
        """Generations that name a prompt version get its id (prompt metrics and links use it)."""
        if self._resolve_prompts is None:
            return
        wanted: dict[str, set[tuple[str, int]]] = defaultdict(set)
        for (pid, _), row in batch.observations.items():
            pair = prompt_to_link(row)
            if pair is not None:
                wanted[pid].add(pair)
        for pid, pairs in wanted.items():
            ids = await self._resolve_prompts(pid, sorted(pairs))
            for key, row in batch.observations.items():
                if key[0] == pid and (pair := prompt_to_link(row)) is not None:
                    prompt_id = ids.get(pair)
                    if prompt_id is not None:
                        batch.observations[key] = msgspec.structs.replace(row, prompt_id=prompt_id)

    # -- pricing ---------------------------------------------------------------------------

    async def _price(self, batch: _Batch) -> None:
        """Price rows made by legacy merges (OTel rows arrive priced from the mapping processes)."""
        # A long legacy batch must not hold the event loop: a row whose usage is counted from
        # its text can take milliseconds (tokens.MAX_EXACT_CHARS), so yield by time, not count.
        slice_ends = time.perf_counter() + _PRICE_SLICE_SECONDS
        for key in [k for k in batch.observations if k in batch.unpriced]:
            row = batch.observations[key]
            if row.provided_model_name:
                await self._project_models(key[0])
            batch.observations[key] = price_row(self.matcher, key[0], row)
            if time.perf_counter() >= slice_ends:
                await asyncio.sleep(0)
                slice_ends = time.perf_counter() + _PRICE_SLICE_SECONDS


R = TypeVar("R", TraceRow, ObservationRow, ScoreRow)

# A trace that a legacy observation without a trace id may get (of the observation's own id):
# loaded and locked like any trace, but only written if the merge does create the wrapper.
WRAPPER_TRACE = "wrapper-trace"
_STORED_AS = {WRAPPER_TRACE: TRACE}
# Raw-log sources the mapping processes turn into rows.
_MAPPED_SOURCES = ("otel", "otel-logs")


def _entities(parsed: list[tuple[Payload, Parsed, int]]) -> dict[tuple[str, str], set[str]]:
    """Every (project, entity kind) → ids the batch merges into, incl. the trace that a legacy
    observation without a trace id gets (of its own id), and the observations that GenAI log
    events of the batch may give input/output to."""
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
    for p, data, _ in parsed:
        pid = p.ref.project_id
        if isinstance(data, MappedPayload):
            wanted[(pid, TRACE)].update(data.traces)
            wanted[(pid, OBSERVATION)].update(
                e.parent_observation_id for e in data.genai_events if e.parent_observation_id
            )
            continue
        for (entity, body_id), group in data.items():
            if entity in (TRACE, OBSERVATION, SCORE):
                wanted[(pid, entity)].add(body_id)
            if entity == OBSERVATION and not any(getattr(e.body, "trace_id", None) for e in group):
                wanted[(pid, WRAPPER_TRACE)].add(body_id)
    return wanted


class _GenAiTargets:
    """Observations a batch may give input/output from GenAI log events: generations that came
    without either, and the observations that log events of the batch belong to."""

    def __init__(self, pairs: set[tuple[str, str, str]]) -> None:
        self.pairs = pairs  # (project, trace id, observation id)

    @classmethod
    def of(cls, parsed: list[tuple[Payload, Parsed, int]]) -> _GenAiTargets:
        pairs: set[tuple[str, str, str]] = set()
        for p, data, _ in parsed:
            if isinstance(data, MappedPayload):
                pid = p.ref.project_id
                pairs.update((pid, trace_id, oid) for trace_id, oid in data.io_missing)
                pairs.update(
                    (pid, event.trace_id, event.parent_observation_id)
                    for event in data.genai_events
                    if event.parent_observation_id
                )
        return cls(pairs)

    def by_project(self) -> dict[str, set[tuple[str, str]]]:
        out: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for pid, trace_id, oid in self.pairs:
            out[pid].add((trace_id, oid))
        return out

    def lock_keys(self) -> list[str]:
        """Held like merges' keys: another worker writing the same observation's events or
        span at the same time waits, and then sees what this batch wrote."""
        keys = {f"{pid}:{OBSERVATION}:{oid}" for pid, _, oid in self.pairs}
        keys |= {f"{pid}:{TRACE}:{trace_id}" for pid, trace_id, _ in self.pairs}
        return sorted(keys)


def _newer_than_stored(rows: list[R], entity: str, stored: dict[tuple[str, str, str], float]) -> list[R]:
    """Rows whose version would not beat the stored version they merged into get one microsecond
    more. With several workers a payload received earlier can be merged after a later one; its
    merged row (which includes the later one's) must still be the version readers pick."""
    out = []
    for row in rows:
        before = stored.get((entity, row.project_id, row.id))
        if before is not None and row.event_ts <= before:
            bumped = (round(before * 1_000_000) + 1) / 1_000_000
            row = msgspec.structs.replace(row, event_ts=bumped, updated_at=max(row.updated_at, bumped))
        out.append(row)
    return out
