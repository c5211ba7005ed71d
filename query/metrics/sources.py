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

# The base rows are read from a window one day wider than asked, then cut to the exact range
# after deduplication: a row whose newest version moved out of range must not be counted by
# way of an older version that is still inside it.
WINDOW_SLACK = "INTERVAL 1 DAY"


def latest(table: str, where: str) -> str:
    """SELECT of the current version of each `table` row matching `where`; FINAL drops
    tombstoned rows itself."""
    return f"SELECT * FROM {table} FINAL WHERE {where}"


def base_cte(table: str, time_column: str) -> str:
    """`WITH base AS (...)`: the view's own rows for the project, in the widened window."""
    where = (
        f"project_id = {PROJECT} AND {time_column} >= {T_FROM} - {WINDOW_SLACK} "
        f"AND {time_column} <= {T_TO} + {WINDOW_SLACK}"
    )
    return f"base AS ({latest(table, where)})"


def related(table: str, column: str, ids_from_base: str) -> str:
    """Rows of `table` whose `column` is one of the base rows' `ids_from_base` values."""
    return latest(table, f"project_id = {PROJECT} AND {column} IN (SELECT {ids_from_base} FROM base)")


def total_tokens(usage: str) -> str:
    """Total units of a usage map: its `total` entry, or the sum of all entries when absent."""
    return f"if(mapContains({usage}, 'total'), {usage}['total'], arraySum(mapValues({usage})))"


def keys_like(mapping: str, word: str) -> str:
    """Sum of a map's values whose key contains `word` (case-insensitive): input/output splits."""
    return f"arraySum(mapValues(mapFilter((k, v) -> positionCaseInsensitive(k, '{word}') > 0, {mapping})))"
