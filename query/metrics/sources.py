"""Row sources for metrics SQL: the current version of each row, tombstones dropped.

Tables are versioned (ReplacingMergeTree on event_ts, is_deleted tombstones). Aggregates read
them with `FINAL`, which merges versions by the sorting key while streaming: a per-id
"newest version" sort over a 30-day window of 10M observations needed more than the embedded
engine's 2 GB, FINAL a fraction. The price: two versions of a row whose sorting key moved
(a trace whose timestamp changed across midnight, an observation updated before its create
arrived on another day) both count until ClickHouse merges them. Observation type and start
time, score timestamps and trace timestamps are first-write-wins, so such moves are rare; point
reads elsewhere use the exact per-id newest version.

Bound parameters every query carries: `project` (String), `t_from` / `t_to` (DateTime64).
"""

from __future__ import annotations

PROJECT = "{project:String}"
T_FROM = "{t_from:DateTime64(6, 'UTC')}"
T_TO = "{t_to:DateTime64(6, 'UTC')}"


def window_start(time_column: str) -> str:
    """Lower bound of the base rows: midnight (UTC) of the requested start.

    Base rows are read from a wider window than asked, then cut to the exact range after
    deduplication: a row whose newest version moved out of range must not be counted by way of
    an older version still inside it. FINAL merges only versions with equal sorting keys, and
    every table's sorting key holds `toDate(<time column>)`, so the versions FINAL can merge lie
    on one UTC day and that day's midnight is wide enough (a whole day earlier was read before:
    7-day metrics read 8 days). Date32 spans DateTime64's years, so this cannot overflow.
    """
    return f"{time_column} >= toDateTime64(toDate32({T_FROM}), 6, 'UTC')"


# The end keeps a day of slack (rows after the requested end are few).
WINDOW_SLACK = "INTERVAL 1 DAY"


# MATERIALIZED columns a measure reads: `SELECT *` leaves them out.
_MATERIALIZED = {"observations": ", usage_total"}


def latest(table: str, where: str) -> str:
    """SELECT of the current version of each `table` row matching `where`; FINAL drops
    tombstoned rows itself."""
    return f"SELECT *{_MATERIALIZED.get(table, '')} FROM {table} FINAL WHERE {where}"


def base_cte(table: str, time_column: str) -> str:
    """`WITH base AS (...)`: the view's own rows for the project, in the widened window."""
    where = f"project_id = {PROJECT} AND {window_start(time_column)} AND {time_column} <= {T_TO} + {WINDOW_SLACK}"
    return f"base AS ({latest(table, where)})"


def related(table: str, column: str, ids_from_base: str) -> str:
    """Rows of `table` whose `column` is one of the base rows' `ids_from_base` values."""
    return latest(table, f"project_id = {PROJECT} AND {column} IN (SELECT {ids_from_base} FROM base)")


# Total units of an observation's usage: its `total` entry, or the sum of all entries when
# absent. Materialized at insert (migration 0003), so metrics do not read the usage Map for it.
USAGE_TOTAL = "usage_total"


def keys_like(mapping: str, word: str) -> str:
    """Sum of a map's values whose key contains `word` (case-insensitive): input/output splits."""
    return f"arraySum(mapValues(mapFilter((k, v) -> positionCaseInsensitive(k, '{word}') > 0, {mapping})))"
