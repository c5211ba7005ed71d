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
    IngestionEvent,
    group_events,
    merge_observation,
    merge_score,
    merge_trace,
    needs_wrapper_trace,
    wrapper_trace_event,
)
from spyglass.collector.otel import (
    ExperimentItem,
    OtlpDecodeError,
    TracePatch,
    decode_otlp,
    map_export,
    merge_trace_patch,
)
from spyglass.collector.pricing import ModelDefinition, ModelMatcher, compute_cost, usage_with_total
from spyglass.collector.worker.loop import Payload, Prepared
from spyglass.collector.worker.state import RowCache
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.rows import ObservationRow, ScoreRow, TraceRow

log = logging.getLogger("spyglass.worker")

_events_decoder = msgspec.json.Decoder(list[IngestionEvent])
_CONTENT_TYPE = {"pb": "application/x-protobuf", "json": "application/json"}

ModelsLoader = Callable[[str], Awaitable[Sequence[ModelDefinition]]]
ExperimentSink = Callable[[str, list[ExperimentItem]], Awaitable[None]]
RunItemSink = Callable[[str, list[DatasetRunItemCreate]], Awaitable[None]]


def encode_events(events: Sequence[IngestionEvent]) -> bytes:
    """The raw-log form of validated ingestion events (decoded by `decode_events`)."""
    return msgspec.json.encode(list(events))


def decode_events(body: bytes) -> list[IngestionEvent]:
    return _events_decoder.decode(body)


class _Batch:
    """Mutable working set of one prepare() call."""

    def __init__(self) -> None:
        self.observations: dict[tuple[str, str], ObservationRow] = {}
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

    # -- Processor protocol ------------------------------------------------------------------

    async def prepare(self, payloads: Sequence[Payload]) -> Prepared:
        prepared = Prepared(done=[], failed=[])
        batch = _Batch()
        for p in sorted(payloads, key=lambda p: p.ref.received_us):
            version = p.ref.received_us / 1e6
            try:
                if p.ref.source == "otel":
                    items, rejected = await self._otel(p, version, batch)
                else:
                    items, rejected = await self._ingestion(p, version, batch)
            except (OtlpDecodeError, msgspec.DecodeError, msgspec.ValidationError) as exc:
                prepared.failed.append((p, f"undecodable {p.ref.source} payload: {exc}"))
                continue
            prepared.done.append((p, items, rejected))
        await self._price(batch)
        for pid, items in batch.experiments.items():
            if self._record_experiments is not None:
                await self._record_experiments(pid, items)
        for pid, items in batch.run_items.items():
            if self._record_run_items is not None:
                await self._record_run_items(pid, items)
        prepared.traces = list(batch.traces.values())
        prepared.observations = list(batch.observations.values())
        prepared.scores = list(batch.scores.values())
        return prepared

    def committed(self, prepared: Prepared) -> None:
        self.traces.put_many(prepared.traces)
        self.observations.put_many(prepared.observations)
        self.scores.put_many(prepared.scores)

    # -- sources -----------------------------------------------------------------------------

    async def _otel(self, p: Payload, version: float, batch: _Batch) -> tuple[int, int]:
        export = decode_otlp(p.body, _CONTENT_TYPE[p.ref.fmt])
        result = map_export(export, project_id=p.ref.project_id, received_at=version)
        pid = p.ref.project_id
        for row in result.observations:
            batch.observations[(pid, row.id)] = row
        await self._fold_trace_patches(pid, list(result.traces.values()), batch)
        if result.experiments:
            batch.experiments[pid].extend(result.experiments)
        return len(result.observations), result.rejected_count

    async def _fold_trace_patches(self, pid: str, patches: list[TracePatch], batch: _Batch) -> None:
        need = [t.trace_id for t in patches if (pid, t.trace_id) not in batch.traces]
        stored = await self.traces.load(self._ch, pid, need) if need else {}
        for patch in patches:
            key = (pid, patch.trace_id)
            current = batch.traces.get(key) or stored.get(patch.trace_id)
            batch.traces[key] = merge_trace_patch(current, patch)

    async def _ingestion(self, p: Payload, version: float, batch: _Batch) -> tuple[int, int]:
        events = decode_events(p.body)
        pid = p.ref.project_id
        groups = group_events(events)
        wanted: dict[str, list[str]] = defaultdict(list)
        for (entity, body_id), _ in groups.items():
            wanted[entity].append(body_id)
        stored_traces = await self._load_missing(self.traces, pid, wanted.get(TRACE, []), batch.traces)
        stored_obs = await self._load_missing(self.observations, pid, wanted.get(OBSERVATION, []), batch.observations)
        stored_scores = await self._load_missing(self.scores, pid, wanted.get(SCORE, []), batch.scores)
        wrappers: list[ObservationRow] = []
        for (entity, body_id), group in groups.items():
            key = (pid, body_id)
            if entity == TRACE:
                current = batch.traces.get(key) or stored_traces.get(body_id)
                batch.traces[key] = merge_trace(current, group, pid, version)  # type: ignore[arg-type]
            elif entity == OBSERVATION:
                current_o = batch.observations.get(key) or stored_obs.get(body_id)
                row = merge_observation(current_o, group, pid, version)  # type: ignore[arg-type]
                batch.observations[key] = row
                if needs_wrapper_trace(row):
                    wrappers.append(row)
            elif entity == SCORE:
                current_s = batch.scores.get(key) or stored_scores.get(body_id)
                batch.scores[key] = merge_score(current_s, group, pid, version)  # type: ignore[arg-type]
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
        return len(events), 0

    async def _load_missing(
        self, cache: RowCache[Any], pid: str, ids: list[str], in_batch: dict[tuple[str, str], Any]
    ) -> dict[str, Any]:
        need = [i for i in ids if (pid, i) not in in_batch]
        return await cache.load(self._ch, pid, need) if need else {}

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
