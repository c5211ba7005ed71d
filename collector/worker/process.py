"""Raw payloads → ClickHouse rows: decode, map, merge with stored state, price.

Payloads are handled in receive order, so a later update always folds over an earlier one.
Rows get `event_ts` = the payload's receive time, which makes re-processing a payload (a
replay, a redelivery after a crash) produce rows no newer than what it produced before.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

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
    apply_score_config,
    group_events,
    merge_observation,
    merge_score,
    merge_trace,
    needs_wrapper_trace,
    wrapper_trace_event,
)
from spyglass.collector.otel import ExperimentItem, MapResult, merge_trace_patch
from spyglass.collector.pricing import ModelDefinition, ModelMatcher, compute_cost, usage_with_total
from spyglass.collector.worker.loop import Payload, Prepared
from spyglass.collector.worker.mapping import PayloadMapper
from spyglass.collector.worker.state import RowCache
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.rows import ObservationRow, ScoreRow, TraceRow

log = logging.getLogger("spyglass.worker")

_events_decoder = msgspec.json.Decoder(list[IngestionEvent])

ModelsLoader = Callable[[str], Awaitable[Sequence[ModelDefinition]]]
ExperimentSink = Callable[[str, list[ExperimentItem]], Awaitable[None]]
RunItemSink = Callable[[str, list[DatasetRunItemCreate]], Awaitable[None]]
PromptResolver = Callable[[str, list[tuple[str, int]]], Awaitable[dict[tuple[str, int], str]]]
ScoreConfigLoader = Callable[[str, list[str]], Awaitable[dict[str, ScoreConfig]]]


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
        # Observations this batch writes.
        self.touched: set[tuple[str, str]] = set()
        # The dataType each score's client declared (None: inferred from the value).
        self.declared_types: dict[tuple[str, str], str | None] = {}
        self.traces: dict[tuple[str, str], TraceRow] = {}
        self.scores: dict[tuple[str, str], ScoreRow] = {}
        self.experiments: dict[str, list[ExperimentItem]] = defaultdict(list)
        self.run_items: dict[str, list[DatasetRunItemCreate]] = defaultdict(list)


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
        cache_entries: int = 50_000,
    ) -> None:
        self._ch = ch
        self.traces = RowCache(TraceRow, cache_entries)
        self.observations = RowCache(ObservationRow, cache_entries)
        self.scores = RowCache(ScoreRow, cache_entries)
        self.matcher = ModelMatcher()
        self._load_models = load_models
        self._record_experiments = record_experiments
        self._record_run_items = record_run_items
        self._resolve_prompts = resolve_prompts
        self._load_score_configs = load_score_configs
        self.rejected_scores = 0
        self._mapper = mapper or PayloadMapper(0)

    # -- Processor protocol ------------------------------------------------------------------

    async def prepare(self, payloads: Sequence[Payload]) -> Prepared:
        prepared = Prepared(done=[], failed=[])
        batch = _Batch()
        parsed: list[tuple[Payload, MapResult | dict[EntityKey, list[IngestionEvent]], int]] = []
        ordered = sorted(payloads, key=lambda p: p.ref.received_us)
        otel = [p for p in ordered if p.ref.source == "otel"]
        mapped = dict(
            zip(
                (id(p) for p in otel),
                await self._mapper.map([(p.body, p.ref.fmt, p.ref.project_id, p.ref.received_us / 1e6) for p in otel]),
                strict=True,
            )
        )
        for p in ordered:
            if p.ref.source == "otel":
                result = mapped[id(p)]
                if isinstance(result, str):
                    prepared.failed.append((p, f"undecodable otel payload: {result}"))
                else:
                    parsed.append((p, result, len(result.observations)))
                continue
            try:
                events = decode_events(p.body)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                prepared.failed.append((p, f"undecodable {p.ref.source} payload: {exc}"))
                continue
            parsed.append((p, group_events(events), len(events)))
        # Merges need the stored version of every entity the batch touches: one read per table
        # and project for the whole batch (most hits come from the worker's own cache).
        await self._load_state(parsed, batch)
        for p, data, items in parsed:
            version = p.ref.received_us / 1e6
            if isinstance(data, MapResult):
                self._fold_otel(p.ref.project_id, data, batch)
                prepared.done.append((p, items, data.rejected_count))
            else:
                await self._fold_events(p.ref.project_id, data, version, batch)
                prepared.done.append((p, items, 0))
        await self._price(batch)
        await self._link_prompts(batch)
        await self._check_score_configs(batch)
        for pid, items_ in batch.experiments.items():
            if self._record_experiments is not None:
                await self._record_experiments(pid, items_)
        for pid, run_items in batch.run_items.items():
            if self._record_run_items is not None:
                await self._record_run_items(pid, run_items)
        prepared.traces = list(batch.traces.values())
        prepared.observations = [row for key, row in batch.observations.items() if key in batch.touched]
        prepared.scores = list(batch.scores.values())
        return prepared

    def forget_project(self, project_id: str) -> None:
        """Drop cached rows of a project whose rows were deleted, so merges re-read the store
        (where tombstones hide them) instead of reviving deleted content."""
        self.traces.forget_project(project_id)
        self.observations.forget_project(project_id)
        self.scores.forget_project(project_id)

    def committed(self, prepared: Prepared) -> None:
        self.traces.put_many(prepared.traces)
        self.observations.put_many(prepared.observations)
        self.scores.put_many(prepared.scores)

    # -- stored state ------------------------------------------------------------------------

    async def _load_state(
        self,
        parsed: list[tuple[Payload, MapResult | dict[EntityKey, list[IngestionEvent]], int]],
        batch: _Batch,
    ) -> None:
        wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
        for p, data, _ in parsed:
            pid = p.ref.project_id
            if isinstance(data, MapResult):
                wanted[(pid, TRACE)].update(data.traces)
            else:
                for entity, body_id in data:
                    if entity in (TRACE, OBSERVATION, SCORE):
                        wanted[(pid, entity)].add(body_id)
        caches: dict[str, tuple[RowCache[Any], dict[tuple[str, str], Any]]] = {
            TRACE: (self.traces, batch.traces),
            OBSERVATION: (self.observations, batch.stored_observations),
            SCORE: (self.scores, batch.scores),
        }
        for (pid, entity), ids in wanted.items():
            cache, target = caches[entity]
            for row_id, row in (await cache.load(self._ch, pid, list(ids))).items():
                target[(pid, row_id)] = row

    # -- sources -----------------------------------------------------------------------------

    def _fold_otel(self, pid: str, result: MapResult, batch: _Batch) -> None:
        for row in result.observations:
            key = (pid, row.id)
            batch.observations[key] = row
            batch.touched.add(key)
        for patch in result.traces.values():
            key = (pid, patch.trace_id)
            batch.traces[key] = merge_trace_patch(batch.traces.get(key), patch)
        if result.experiments:
            batch.experiments[pid].extend(result.experiments)

    async def _fold_events(
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
                if needs_wrapper_trace(row):
                    wrappers.append(row)
            elif entity == SCORE:
                batch.scores[key] = merge_score(batch.scores.get(key), group, pid, version)  # type: ignore[arg-type]
                batch.declared_types[key] = group[-1].body.data_type  # type: ignore[union-attr]
            else:
                batch.run_items[pid].extend(e for e in group if isinstance(e, DatasetRunItemCreate))
        if wrappers:
            # SDKs before v2 sent observations without a trace: each gets a trace of its own id.
            ids = [w.trace_id for w in wrappers if (pid, w.trace_id) not in batch.traces]
            stored = await self.traces.load(self._ch, pid, ids) if ids else {}
            for w in wrappers:
                key = (pid, w.trace_id)
                current = batch.traces.get(key) or stored.get(w.trace_id)
                batch.traces[key] = merge_trace(current, [wrapper_trace_event(w)], pid, version)

    # -- score configs -----------------------------------------------------------------------

    async def _check_score_configs(self, batch: _Batch) -> None:
        """Scores that name a config take its name and type and must fit its range or categories;
        one that does not fit is dropped (the client was answered already; as in Langfuse)."""
        if self._load_score_configs is None:
            return
        wanted: dict[str, set[str]] = defaultdict(set)
        for (pid, _), row in batch.scores.items():
            if row.config_id:
                wanted[pid].add(row.config_id)
        for pid, ids in wanted.items():
            configs = await self._load_score_configs(pid, sorted(ids))
            for key, row in list(batch.scores.items()):
                if key[0] != pid or not row.config_id:
                    continue
                config = configs.get(row.config_id)
                result = (
                    apply_score_config(row, config, declared_data_type=batch.declared_types.get(key))
                    if config is not None
                    else ScoreRejected(score_id=row.id, message=f"score config {row.config_id} does not exist")
                )
                if isinstance(result, ScoreRejected):
                    log.warning("score %s of project %s dropped: %s", row.id, pid, result.message)
                    self.rejected_scores += 1
                    del batch.scores[key]
                else:
                    batch.scores[key] = result

    # -- prompts -----------------------------------------------------------------------------

    async def _link_prompts(self, batch: _Batch) -> None:
        """Generations that name a prompt version get its id (prompt metrics and links use it)."""
        if self._resolve_prompts is None:
            return
        wanted: dict[str, set[tuple[str, int]]] = defaultdict(set)
        for (pid, _), row in batch.observations.items():
            if row.prompt_name and row.prompt_version is not None and row.prompt_id is None:
                wanted[pid].add((row.prompt_name, row.prompt_version))
        for pid, pairs in wanted.items():
            ids = await self._resolve_prompts(pid, sorted(pairs))
            for key, row in batch.observations.items():
                if key[0] == pid and row.prompt_name and row.prompt_version is not None and row.prompt_id is None:
                    prompt_id = ids.get((row.prompt_name, row.prompt_version))
                    if prompt_id is not None:
                        batch.observations[key] = msgspec.structs.replace(row, prompt_id=prompt_id)

    # -- pricing -----------------------------------------------------------------------------

    async def _price(self, batch: _Batch) -> None:
        for key, row in batch.observations.items():
            if not row.provided_model_name and not row.usage_details and not row.provided_cost_details:
                continue
            pid = key[0]
            model = None
            if row.provided_model_name:
                if not self.matcher.has_project(pid):
                    models = await self._load_models(pid) if self._load_models else ()
                    self.matcher.set_project_models(pid, list(models))
                model = self.matcher.match(pid, row.provided_model_name)
            usage = usage_with_total(row.usage_details)
            result = compute_cost(
                usage,
                row.provided_cost_details or None,
                model,
                _json_object(row.model_parameters),
                row.metadata,
            )
            batch.observations[key] = msgspec.structs.replace(
                row,
                usage_details=usage,
                cost_details=result.cost_details,
                total_cost=result.total_cost,
                internal_model_id=result.internal_model_id or row.internal_model_id,
                usage_pricing_tier_id=result.tier_id,
                usage_pricing_tier_name=result.tier_name,
            )


def _json_object(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, dict) else None
