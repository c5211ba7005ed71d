"""Observations: queries over the `observations` table and the two response shapes.

`ObservationsView` (v1 list/get, trace detail) is Langfuse's flat legacy shape; the v2 shape is
assembled from field groups. Lists run in two passes: a narrow pass dedupes versions and picks the
page's ids (ordering, filters, count), then a wide pass fetches full rows for those ids only, so
input/output text is read for at most one page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import msgspec

from spyglass.query.reads import filters, paging
from spyglass.query.reads.filters import ARRAY_KIND, MAP_KIND, NUMBER_KIND, STRING_KIND, TIME_KIND, Column
from spyglass.query.reads.live import (
    PROJECT,
    exact_window,
    get_live,
    live_picked,
    live_trace_ids,
    newest_live,
    time_window,
)
from spyglass.query.reads.params import Page
from spyglass.query.reads.prices import UnitPrices
from spyglass.query.reads.sql import INT, STRING, STRINGS, Params
from spyglass.query.reads.values import iso, json_value, metadata, micros_of, seconds_between, time_select
from spyglass.store.clickhouse.client import ClickHouse

OBSERVATION_TYPES = frozenset(
    {"GENERATION", "SPAN", "EVENT", "AGENT", "TOOL", "CHAIN", "RETRIEVER", "EVALUATOR", "EMBEDDING", "GUARDRAIL"}
)
LEVELS = frozenset({"DEBUG", "DEFAULT", "WARNING", "ERROR"})

_FULL = [
    "id",
    "trace_id",
    "project_id",
    "type",
    "parent_observation_id",
    "environment",
    time_select("start_time", "start_us"),
    time_select("end_time", "end_us"),
    time_select("completion_start_time", "completion_start_us"),
    "name",
    "metadata",
    "level",
    "status_message",
    "version",
    "input",
    "output",
    "provided_model_name",
    "internal_model_id",
    "model_parameters",
    "usage_details",
    "cost_details",
    "total_cost",
    "prompt_id",
    "prompt_name",
    "prompt_version",
    "usage_pricing_tier_id",
    "usage_pricing_tier_name",
    "otel_events",
    "otel_links",
    time_select("created_at", "created_us"),
    time_select("updated_at", "updated_us"),
    "is_deleted",
]
FULL_COLUMNS = ", ".join(_FULL)


def span_detail(r: Mapping[str, Any]) -> dict[str, str]:
    """OpenTelemetry span events and links (JSON text), shown as metadata keys `spanEvents` and
    `spanLinks` so every client that reads metadata sees them; a user's own key of the same
    name wins."""
    out = {}
    if r.get("otel_events"):
        out["spanEvents"] = r["otel_events"]
    if r.get("otel_links"):
        out["spanLinks"] = r["otel_links"]
    return out


def columns_for(groups: set[str]) -> str:
    """Full rows minus the text-heavy columns no requested v2 field group shows."""
    skip = set()
    if "io" not in groups:
        skip |= {"input", "output"}
    if "metadata" not in groups:
        skip |= {"metadata", "otel_events", "otel_links"}
    return ", ".join(c for c in _FULL if c not in skip)


_NARROW = (
    "id, trace_id, type, name, level, status_message, version, environment, parent_observation_id, "
    "start_time, end_time, completion_start_time, provided_model_name, prompt_name, prompt_version, "
    "usage_details, cost_details, total_cost, is_deleted"
)

_LATENCY = "(toUnixTimestamp64Micro(end_time) - toUnixTimestamp64Micro(start_time)) / 1e6"
_TTFT = "(toUnixTimestamp64Micro(completion_start_time) - toUnixTimestamp64Micro(start_time)) / 1e6"
_ROOT = "(parent_observation_id IS NULL OR parent_observation_id = '')"

FILTER_COLUMNS: dict[str, Column] = {
    "id": Column("id", STRING_KIND),
    "type": Column("type", STRING_KIND),
    "name": Column("name", STRING_KIND),
    "traceId": Column("trace_id", STRING_KIND),
    "startTime": Column("start_time", TIME_KIND),
    "endTime": Column("end_time", TIME_KIND),
    "environment": Column("environment", STRING_KIND),
    "level": Column("level", STRING_KIND),
    "statusMessage": Column("status_message", STRING_KIND),
    "version": Column("version", STRING_KIND),
    "parentObservationId": Column("parent_observation_id", STRING_KIND),
    "isRootObservation": Column(_ROOT, filters.BOOL_KIND),
    "latency": Column(_LATENCY, NUMBER_KIND),
    "timeToFirstToken": Column(_TTFT, NUMBER_KIND),
    "tokensPerSecond": Column(f"if({_LATENCY} > 0, usage_details['output'] / {_LATENCY}, NULL)", NUMBER_KIND),
    "inputTokens": Column("usage_details['input']", NUMBER_KIND),
    "outputTokens": Column("usage_details['output']", NUMBER_KIND),
    "totalTokens": Column("usage_details['total']", NUMBER_KIND),
    "tokens": Column("usage_details['total']", NUMBER_KIND),
    "inputCost": Column("toFloat64(cost_details['input'])", NUMBER_KIND),
    "outputCost": Column("toFloat64(cost_details['output'])", NUMBER_KIND),
    "totalCost": Column("toFloat64(total_cost)", NUMBER_KIND),
    "model": Column("provided_model_name", STRING_KIND),
    "providedModelName": Column("provided_model_name", STRING_KIND),
    "promptName": Column("prompt_name", STRING_KIND),
    "promptVersion": Column("prompt_version", NUMBER_KIND),
    "metadata": Column("metadata", MAP_KIND),
    # Trace attributes: compiled against the traces table and joined by trace id.
    "userId": Column("user_id", STRING_KIND, on_trace=True),
    "sessionId": Column("session_id", STRING_KIND, on_trace=True),
    "traceName": Column("name", STRING_KIND, on_trace=True),
    "traceEnvironment": Column("environment", STRING_KIND, on_trace=True),
    "traceTags": Column("tags", ARRAY_KIND, on_trace=True),
    "tags": Column("tags", ARRAY_KIND, on_trace=True),
}


class Selection(msgspec.Struct, kw_only=True):
    """Which observations a list wants: conditions on the newest version plus a time window."""

    params: Params
    conditions: list[str] = []
    trace_conditions: list[str] = []
    trace_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    needs_metadata: bool = False


def select_from_query(
    project_id: str,
    *,
    filter_raw: str | None,
    name: str | None = None,
    user_id: str | None = None,
    session_id: str | None = None,
    obs_type: str | None = None,
    trace_id: str | None = None,
    level: str | None = None,
    parent_observation_id: str | None = None,
    root_only: bool | None = None,
    environments: Iterable[str] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    version: str | None = None,
) -> Selection:
    """The selection for v1 and v2 list requests. A `filter` array takes precedence over the
    individual query parameters, as upstream documents."""
    params = Params(p=project_id)
    sel = Selection(params=params)
    conditions = filters.parse(filter_raw)
    if conditions:
        compiled = filters.compile_filters(conditions, FILTER_COLUMNS, params)
        sel.conditions = compiled.row
        sel.trace_conditions = compiled.trace
        sel.needs_metadata = any(c.get("column") == "metadata" for c in conditions)
        sel.start, sel.end = _window_from_filter(conditions)
        return sel
    row: list[str] = []
    if name is not None:
        row.append(f"name = {params.bind(name, STRING)}")
    if obs_type is not None:
        row.append(f"type = {params.bind(obs_type, STRING)}")
    if level is not None:
        row.append(f"level = {params.bind(level, STRING)}")
    if version is not None:
        row.append(f"version = {params.bind(version, STRING)}")
    if parent_observation_id is not None:
        row.append(
            f"parent_observation_id = {params.bind(parent_observation_id, STRING)}" if parent_observation_id else _ROOT
        )
    if root_only is not None:
        row.append(_ROOT if root_only else f"NOT {_ROOT}")
    envs = list(environments)
    if envs:
        row.append(f"environment IN {params.bind(envs, STRINGS)}")
    row.extend(exact_window("start_time", params, start, end))
    if trace_id is not None:
        sel.trace_id = trace_id
    trace_side: list[str] = []
    if user_id is not None:
        trace_side.append(f"user_id = {params.bind(user_id, STRING)}")
    if session_id is not None:
        trace_side.append(f"session_id = {params.bind(session_id, STRING)}")
    sel.conditions, sel.trace_conditions, sel.start, sel.end = row, trace_side, start, end
    return sel


def _window_from_filter(conditions: list[dict[str, Any]]) -> tuple[datetime | None, datetime | None]:
    """A start-time window implied by `startTime` conditions, used to prune the reads (the
    conditions themselves are still applied exactly)."""
    start = end = None
    for c in conditions:
        if c.get("column") != "startTime" or c.get("type") != "datetime" or not isinstance(c.get("value"), str):
            continue
        try:
            moment = datetime.fromisoformat(c["value"])
        except ValueError:
            continue
        if moment.tzinfo is None:
            continue
        if c.get("operator") in (">", ">="):
            start = moment if start is None else max(start, moment)
        elif c.get("operator") in ("<", "<="):
            bound = moment + timedelta(microseconds=1)
            end = bound if end is None else min(end, bound)
    return start, end


def listing(
    sel: Selection,
    order: str,
    *,
    extra_direct: list[str] | None = None,
    extra_conditions: list[str] | None = None,
    anchor_us: int | None = None,
) -> paging.Listing:
    p = sel.params
    conditions = list(sel.conditions)
    if sel.trace_conditions:
        conditions.append(f"trace_id IN ({live_trace_ids(sel.trace_conditions)})")
    direct = [PROJECT, *time_window("start_time", p, sel.start, sel.end), *(extra_direct or [])]
    if sel.trace_id is not None:
        direct.append(f"trace_id = {p.bind(sel.trace_id, STRING)}")
    bounds = [v for v in (anchor_us, micros(sel.end)) if v is not None]
    return paging.Listing(
        table="observations",
        time_column="start_time",
        params=p,
        direct=direct,
        conditions=[*conditions, *(extra_conditions or [])],
        narrow=_NARROW + (", metadata" if sel.needs_metadata else ""),
        picked="id, trace_id, toUnixTimestamp64Micro(start_time) AS start_us",
        order=order,
        # Within one trace the trace_id index already narrows the read; windows would only add
        # round trips.
        windowed=sel.trace_id is None,
        anchor_us=min(bounds) if bounds else None,
        floor_us=micros(sel.start),
    )


async def page_v1(ch: ClickHouse, sel: Selection, page: Page) -> tuple[list[dict[str, Any]], int]:
    spec = listing(sel, "start_time DESC, id DESC")
    picked, total = await asyncio.gather(paging.page(ch, spec, page.offset, page.limit), paging.count(ch, spec))
    rows = await fetch_rows(ch, sel.params.values["p"], picked)
    return rows, total


async def page_v2(
    ch: ClickHouse,
    sel: Selection,
    limit: int,
    cursor: tuple[int, str, str] | None,
    columns: str = "",
) -> list[dict[str, Any]]:
    """Up to `limit + 1` rows (the extra one tells the caller there is a next page), ordered by
    start time, trace id and id, all descending; `cursor` resumes after a previous page."""
    p = sel.params
    direct: list[str] = []
    after: list[str] = []
    anchor = None
    if cursor is not None:
        ts_us, trace_id, obs_id = cursor
        bound = p.bind(ts_us, INT)
        # The plain bound prunes by the primary key; the tuple comparison is the exact resume point.
        direct.append(f"start_time <= fromUnixTimestamp64Micro({bound}, 'UTC')")
        after.append(
            f"(toUnixTimestamp64Micro(start_time), trace_id, id) < "
            f"({bound}, {p.bind(trace_id, STRING)}, {p.bind(obs_id, STRING)})"
        )
        anchor = ts_us
    spec = listing(
        sel, "start_time DESC, trace_id DESC, id DESC", extra_direct=direct, extra_conditions=after, anchor_us=anchor
    )
    picked = await paging.top(ch, spec, limit + 1)
    return await fetch_rows(ch, p.values["p"], picked[: limit + 1], columns or FULL_COLUMNS)


async def fetch_rows(
    ch: ClickHouse, project_id: str, picked: list[dict[str, Any]], columns: str = FULL_COLUMNS
) -> list[dict[str, Any]]:
    """Live rows for the picked `(id, start_us)` pairs, in the picked order."""
    return await live_picked(
        ch, "observations", columns, project_id, picked, time_column="start_time", us_key="start_us"
    )


async def get_one(ch: ClickHouse, project_id: str, observation_id: str) -> dict[str, Any] | None:
    return await get_live(ch, "observations", FULL_COLUMNS, project_id, observation_id)


async def for_trace(ch: ClickHouse, project_id: str, trace_id: str) -> list[dict[str, Any]]:
    """Every live observation of a trace, oldest first. The trace_id bloom filter finds the
    granules; versions are resolved here rather than by a sort of wide rows in ClickHouse."""
    params = Params(p=project_id)
    sql = (
        f"SELECT {FULL_COLUMNS}, toUnixTimestamp64Micro(event_ts) AS version_us FROM observations "
        f"WHERE {PROJECT} AND trace_id = {params.bind(trace_id, STRING)}"
    )
    rows = newest_live(await ch.rows(sql, params.values))
    return sorted(rows, key=lambda r: (int(r["start_us"]), r["id"]))


# -- shapes ----------------------------------------------------------------------------------


def _reduce(details: Mapping[str, Any] | None) -> tuple[float | None, float | None, float | None]:
    """(input, output, total) of a usage or cost map: `input*` keys summed (input_cached_tokens,
    input_audio, ...), likewise `output*`; total is the `total` key. None when no key applies."""
    if not details:
        return None, None, None
    inputs = [v for k, v in details.items() if k.startswith("input")]
    outputs = [v for k, v in details.items() if k.startswith("output")]
    total = details.get("total")
    return (
        sum(inputs) if inputs else None,
        sum(outputs) if outputs else None,
        total,
    )


def _legacy_model_parameters(text: str | None) -> dict[str, Any] | None:
    """The parameters as a flat map. ObservationsView types values as string | number | bool |
    string list, so nested values are returned as their JSON text rather than failing clients."""
    value = json_value(text)
    if value is None:
        return None
    if not isinstance(value, dict):
        return {"value": value if isinstance(value, str | int | float | bool) else msgspec.json.encode(value).decode()}
    out: dict[str, Any] = {}
    for key, item in value.items():
        flat = item is None or isinstance(item, str | int | float | bool)
        flat = flat or (isinstance(item, list) and all(isinstance(x, str) for x in item))
        out[key] = item if flat else msgspec.json.encode(item).decode()
    return out


def _price(value: Any) -> float | None:
    return None if value is None else float(value)


def observation_json(r: Mapping[str, Any], prices: UnitPrices) -> dict[str, Any]:
    """An `ObservationsView` (v1 list/get and the trace detail's observations)."""
    usage = r.get("usage_details") or {}
    cost = r.get("cost_details") or {}
    in_units, out_units, total_units = _reduce(usage)
    in_cost, out_cost, total_cost = _reduce(cost)
    if total_cost is None and r.get("total_cost") is not None:
        total_cost = r["total_cost"]
    start, end, first_token = r["start_us"], r.get("end_us"), r.get("completion_start_us")
    prompt_tokens, completion_tokens, total_tokens = int(in_units or 0), int(out_units or 0), int(total_units or 0)
    return {
        "id": r["id"],
        "projectId": r["project_id"],
        "traceId": r["trace_id"],
        "type": r["type"],
        "name": r["name"],
        "startTime": iso(start),
        "endTime": iso(end),
        "completionStartTime": iso(first_token),
        "model": r.get("provided_model_name"),
        "modelParameters": _legacy_model_parameters(r.get("model_parameters")),
        "input": json_value(r.get("input")),
        "output": json_value(r.get("output")),
        "metadata": {**metadata(span_detail(r)), **metadata(r.get("metadata"))},
        "version": r.get("version"),
        "level": r["level"],
        "statusMessage": r.get("status_message"),
        "parentObservationId": r.get("parent_observation_id") or None,
        "environment": r["environment"],
        "createdAt": iso(r.get("created_us")),
        "updatedAt": iso(r.get("updated_us")),
        "usage": {"input": prompt_tokens, "output": completion_tokens, "total": total_tokens, "unit": "TOKENS"},
        "unit": "TOKENS",
        "promptTokens": prompt_tokens,
        "completionTokens": completion_tokens,
        "totalTokens": total_tokens,
        "usageDetails": usage,
        "costDetails": cost,
        "usagePricingTierId": r.get("usage_pricing_tier_id"),
        "usagePricingTierName": r.get("usage_pricing_tier_name"),
        "promptId": r.get("prompt_id"),
        "promptName": r.get("prompt_name"),
        "promptVersion": r.get("prompt_version"),
        "modelId": r.get("internal_model_id"),
        # Upstream's newer name for the same id (what v2 and the SDK's ObservationV2 carry).
        "internalModelId": r.get("internal_model_id"),
        "inputPrice": _price(prices.input),
        "outputPrice": _price(prices.output),
        "totalPrice": _price(prices.total),
        "calculatedInputCost": in_cost,
        "calculatedOutputCost": out_cost,
        "calculatedTotalCost": total_cost,
        "latency": seconds_between(start, end),
        "timeToFirstToken": seconds_between(start, first_token),
    }


V2_GROUPS = ("core", "basic", "time", "io", "metadata", "model", "usage", "prompt", "metrics", "trace_context")
V2_DEFAULT_GROUPS = ("core", "basic")
# Metadata values longer than this are cut unless their key is listed in `expandMetadata`.
METADATA_PREVIEW_CHARS = 200


def view_v2(
    r: Mapping[str, Any],
    groups: set[str],
    trace: Mapping[str, Any] | None,
    prices: UnitPrices,
    expand: set[str],
) -> dict[str, Any]:
    """A v2 observation with the requested field groups (core always)."""
    start, end, first_token = r["start_us"], r.get("end_us"), r.get("completion_start_us")
    parent = r.get("parent_observation_id") or None
    with_model = "model" in groups
    out: dict[str, Any] = {
        "id": r["id"],
        "traceId": r["trace_id"],
        "startTime": iso(start),
        "endTime": iso(end),
        "projectId": r["project_id"],
        "parentObservationId": parent,
        "type": r["type"],
        "modelId": r.get("internal_model_id") if with_model else None,
        "inputPrice": _price_text(prices.input) if with_model else None,
        "outputPrice": _price_text(prices.output) if with_model else None,
        "totalPrice": _price_text(prices.total) if with_model else None,
    }
    t = trace or {}
    if "basic" in groups:
        out.update(
            name=r["name"],
            level=r["level"],
            statusMessage=r.get("status_message"),
            version=r.get("version"),
            environment=r["environment"],
            bookmarked=bool(t.get("bookmarked")) if parent is None else False,
            public=bool(t.get("public")),
            userId=t.get("user_id"),
            sessionId=t.get("session_id"),
            isRootObservation=parent is None,
        )
    if "time" in groups:
        out.update(
            completionStartTime=iso(first_token), createdAt=iso(r.get("created_us")), updatedAt=iso(r.get("updated_us"))
        )
    if "io" in groups:
        # v2 returns input/output as the stored text (parseIoAsJson is retired upstream).
        out.update(input=r.get("input"), output=r.get("output"))
    if "metadata" in groups:
        out["metadata"] = {
            k: (v if k in expand or len(v) <= METADATA_PREVIEW_CHARS else v[:METADATA_PREVIEW_CHARS])
            for k, v in {**span_detail(r), **(r.get("metadata") or {})}.items()
        }
    if with_model:
        out.update(
            model=r.get("provided_model_name"),
            providedModelName=r.get("provided_model_name"),
            internalModelId=r.get("internal_model_id"),
            modelParameters=json_value(r.get("model_parameters")),
        )
    if "usage" in groups:
        out.update(
            usageDetails=r.get("usage_details") or {},
            costDetails=r.get("cost_details") or {},
            totalCost=r.get("total_cost"),
            usagePricingTierName=r.get("usage_pricing_tier_name"),
        )
    if "prompt" in groups:
        out.update(promptId=r.get("prompt_id"), promptName=r.get("prompt_name"), promptVersion=r.get("prompt_version"))
    if "metrics" in groups:
        out.update(latency=seconds_between(start, end), timeToFirstToken=seconds_between(start, first_token))
    if "trace_context" in groups:
        out.update(traceName=t.get("name"), tags=t.get("tags") or [], release=t.get("release"))
    return out


def _price_text(value: Any) -> str | None:
    return None if value is None else format(value, "f")


def micros(moment: datetime | None) -> int | None:
    return None if moment is None else micros_of(moment)
