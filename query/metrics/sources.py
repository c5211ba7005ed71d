"""Row sources for metrics SQL: the current version of each row, tombstones dropped.

Tables are versioned (ReplacingMergeTree on event_ts, is_deleted tombstones) and their sorting
keys include the row's date, so `FINAL` would not collapse two versions of a row whose time
moved across midnight. Every source therefore takes the newest version per id explicitly.

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
    """SELECT of the newest live version of each `table` row matching `where` (pre-dedup)."""
    return (
        f"SELECT * FROM (SELECT * FROM {table} WHERE {where} ORDER BY event_ts DESC LIMIT 1 BY id) WHERE is_deleted = 0"
    )


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
