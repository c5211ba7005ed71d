"""Legacy daily metrics (`GET /api/public/metrics/daily`): per UTC day, trace and observation
counts, cost, and usage per model, for traces matching optional name/user/tags filters.

As in Langfuse, a day's `countTraces` counts traces by their timestamp, while observation
counts, usage and cost count the matching traces' observations by their start time; a day with
either appears. Usage takes the `input`, `output` and `total` usage entries; observations
without a model (spans, events) form their own `model: null` group.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import msgspec

from spyglass.query.metrics.sources import PROJECT, latest
from spyglass.query.metrics.spec import ch_datetime
from spyglass.store.clickhouse.client import ClickHouse


class DailyFilter(msgspec.Struct, frozen=True, kw_only=True):
    trace_name: str | None = None
    user_id: str | None = None
    tags: tuple[str, ...] = ()
    from_timestamp: datetime | None = None
    to_timestamp: datetime | None = None


def _matching_traces(f: DailyFilter, params: dict[str, Any]) -> str:
    pre = [f"project_id = {PROJECT}"]
    post = []
    if f.from_timestamp is not None:
        params["t_from"] = ch_datetime(f.from_timestamp)
        pre.append("timestamp >= {t_from:DateTime64(6, 'UTC')} - INTERVAL 1 DAY")
        post.append("timestamp >= {t_from:DateTime64(6, 'UTC')}")
    if f.to_timestamp is not None:
        params["t_to"] = ch_datetime(f.to_timestamp)
        pre.append("timestamp < {t_to:DateTime64(6, 'UTC')} + INTERVAL 1 DAY")
        post.append("timestamp < {t_to:DateTime64(6, 'UTC')}")
    if f.trace_name is not None:
        params["trace_name"] = f.trace_name
        post.append("name = {trace_name:String}")
    if f.user_id is not None:
        params["user_id"] = f.user_id
        post.append("user_id = {user_id:String}")
    if f.tags:
        params["tags"] = list(f.tags)
        post.append("hasAll(tags, {tags:Array(String)})")
    where = f" WHERE {' AND '.join(post)}" if post else ""
    return f"SELECT id, timestamp FROM ({latest('traces', ' AND '.join(pre))}){where}"


async def daily_metrics(ch: ClickHouse, project_id: str, f: DailyFilter) -> list[dict[str, Any]]:
    """Every day with activity, newest first (the caller pages through the list)."""
    params: dict[str, Any] = {"project": project_id}
    traces = _matching_traces(f, params)
    trace_days = await ch.rows(
        f"WITH matching AS ({traces}) SELECT toString(toDate(timestamp)) AS day, count() AS traces "
        "FROM matching GROUP BY day",
        params,
    )
    usage = await ch.rows(
        f"WITH matching AS ({traces}) "
        "SELECT toString(toDate(start_time)) AS day, provided_model_name AS model, "
        "count() AS observations, uniqExact(trace_id) AS traces, "
        "sum(usage_details['input']) AS input, sum(usage_details['output']) AS output, "
        "sum(usage_details['total']) AS total, sum(ifNull(total_cost, 0)) AS cost "
        f"FROM ({latest('observations', f'project_id = {PROJECT} AND trace_id IN (SELECT id FROM matching)')}) "
        "GROUP BY day, model ORDER BY day, model",
        params,
    )
    days: dict[str, dict[str, Any]] = {}

    def day(key: str) -> dict[str, Any]:
        entry = days.get(key)
        if entry is None:
            entry = {"date": key, "countTraces": 0, "countObservations": 0, "totalCost": 0.0, "usage": []}
            days[key] = entry
        return entry

    for row in trace_days:
        day(row["day"])["countTraces"] = int(row["traces"])
    for row in usage:
        entry = day(row["day"])
        cost = float(row["cost"] or 0)
        entry["countObservations"] += int(row["observations"])
        entry["totalCost"] += cost
        entry["usage"].append(
            {
                "model": row["model"],
                "inputUsage": int(row["input"] or 0),
                "outputUsage": int(row["output"] or 0),
                "totalUsage": int(row["total"] or 0),
                "countTraces": int(row["traces"]),
                "countObservations": int(row["observations"]),
                "totalCost": cost,
            }
        )
    return [days[key] for key in sorted(days, reverse=True)]


def page_of(items: list[dict[str, Any]], page: int, limit: int) -> dict[str, Any]:
    total = len(items)
    start = (page - 1) * limit
    return {
        "data": items[start : start + limit],
        "meta": {"page": page, "limit": limit, "totalItems": total, "totalPages": math.ceil(total / limit)},
    }
