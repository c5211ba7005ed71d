"""Pages and counts over versioned tables without deduping the whole range.

Deduping every version of a big project (`ORDER BY event_ts DESC LIMIT 1 BY id` over millions of
rows) costs seconds, and FINAL is not much cheaper on a small box. A page only needs its own
rows, so:

1. **Candidates.** The raw rows (any version) that match, best first, `LIMIT k`: ClickHouse does
   this with a partial sort. When the order is newest-first by the table's time column, the read
   starts with a recent window (1 day, 7, 31, then everything), which the primary key prunes to a
   few granules; a sparse window makes the next one as much wider as the page needs.
2. **Verify.** The newest version of just those ids must still match and not be a tombstone. The
   id bloom filters are coarse (a list of ids touches most granules), so this read is bounded by
   the candidates' own times, widened by `SLACK` for versions whose time moved.
   If too few survive, take more candidates or widen the window.

A row whose newest version matches has *some* matching version, so candidates never miss one;
verification drops the stale ones.

Counts are one scan: matching live rows and the project's tombstones (`countIf`). Rows of
tombstoned ids are subtracted when there are any. Small results are counted by distinct id, so
versions awaiting a merge count once. A large result reads the ids once more, for both the row
count and an estimate of distinct ids (`uniqCombined64`, well under 1 % off): when they agree
within the estimate's error, nothing awaits a merge and the exact row count is the answer;
otherwise (a replay or a burst of updates left versions unmerged) the estimate is, so a count
never shows the duplicates a list does not. Counts judge any version, pages the newest: they
differ only for rows whose filtered fields changed.

A selective listing (a trace list for one user or session) counts the other way round, with the
same result: the filter goes into WHERE, where it skips the rows of every other user before the
ids are read, and the same scan collects the distinct ids (bounded, so a large result costs no
more than the limit); the tombstone count is a separate read of one UInt8 column. That saves the
second scan a small result needs otherwise (~80 ms of 1M traces). It is not the default: for a
filter most rows match (a common tag), reading and hashing every matching id costs ~100 ms more
than the `countIf` scan, which reads no ids at all when the result is large.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import msgspec

from spyglass.query.reads.live import PROJECT, SLACK
from spyglass.query.reads.sql import INT, STRINGS, Params, latest, where
from spyglass.store.clickhouse.client import ClickHouse

WINDOWS: tuple[timedelta | None, ...] = (timedelta(days=1), timedelta(days=7), timedelta(days=31), None)
EXACT_COUNT_LIMIT = 50_000
# Beyond this many rows into a list, candidate id lists get unwieldy: dedupe the range instead.
DEEP_PAGE_ROWS = 5_000
_MIN_CANDIDATES = 64
_SLACK_US = int(SLACK.total_seconds() * 1_000_000)


class Listing(msgspec.Struct, kw_only=True):
    """One list request against one table."""

    table: str
    # The table's time column (part of its sort key): bounds the verify pass.
    time_column: str
    params: Params
    # Conditions true for every version of a row (project, trace id, widened time bounds).
    direct: list[str]
    # Conditions the newest version must meet (also used to pick candidates among raw rows).
    conditions: list[str]
    # Columns the newest-version pass reads: everything `conditions` and `order` refer to.
    narrow: str
    # What a verified row carries back, e.g. "id, toUnixTimestamp64Micro(timestamp) AS ts_us".
    picked: str
    order: str
    # True when `order` is newest-first by `time_column`: candidates are read window by window.
    windowed: bool = False
    # Upper end the windows count back from (micros; a cursor's position), default now.
    anchor_us: int | None = None
    # Lower bound the request itself sets (micros): no window needs to reach below it.
    floor_us: int | None = None
    # True when few rows are expected to match (see the module docstring on counts).
    selective: bool = False


def _spans(listing: Listing) -> list[timedelta | None]:
    if not listing.windowed:
        return [None]
    anchor = _anchor(listing)
    out: list[timedelta | None] = []
    for span in WINDOWS:
        if span is None or (listing.floor_us is not None and anchor - _us(span) <= listing.floor_us):
            out.append(None)  # everything (or the request's own, narrower bound)
            break
        out.append(span)
    return out


def _anchor(listing: Listing) -> int:
    return listing.anchor_us if listing.anchor_us is not None else int(time.time() * 1e6)


def _us(span: timedelta) -> int:
    return int(span.total_seconds() * 1_000_000)


async def top(ch: ClickHouse, listing: Listing, need: int) -> list[dict[str, Any]]:
    """At least `need` verified rows in order (all of them when fewer match)."""
    spans = _spans(listing)
    verified: list[dict[str, Any]] = []
    i = 0
    while i < len(spans):
        span = spans[i]
        last = i == len(spans) - 1
        lower = None if span is None else _anchor(listing) - _us(span)
        k = max(need * 2, _MIN_CANDIDATES)
        while True:
            raw = await _candidates(ch, listing, lower, k)
            ids = _unique(r["id"] for r in raw)
            exhausted = len(raw) < k
            if exhausted and len(ids) < need and not last:
                break  # too few here even if all verify: widen without verifying
            verified = await _verify(ch, listing, ids, raw)
            if len(verified) >= need or exhausted:
                break
            k *= 4
        if len(verified) >= need or last:
            return verified
        i += 1
        if not ids:
            i = len(spans) - 1  # nothing recent at all: an idle project, read it whole
        elif span is not None:
            # Skip windows that, at this window's density, would still fall short.
            wanted = span * (need / len(ids))
            while i < len(spans) - 1 and (spans[i] or wanted) < wanted:
                i += 1
    return verified


async def page(ch: ClickHouse, listing: Listing, offset: int, limit: int) -> list[dict[str, Any]]:
    """Verified rows `offset .. offset + limit` in order."""
    if offset + limit <= DEEP_PAGE_ROWS:
        return (await top(ch, listing, offset + limit))[offset : offset + limit]
    # A deep page: dedupe every row with some matching version, then skip to the page.
    candidates = f"id IN (SELECT id FROM {listing.table} WHERE {where([*listing.direct, *listing.conditions])})"
    inner = latest(listing.table, listing.narrow, [*listing.direct, candidates])
    sql = (
        f"SELECT {listing.picked} FROM ({inner}) WHERE {where(['is_deleted = 0', *listing.conditions])} "
        f"ORDER BY {listing.order} LIMIT {limit:d} OFFSET {offset:d}"
    )
    return await ch.rows(sql, listing.params.values)


async def _candidates(ch: ClickHouse, listing: Listing, lower_us: int | None, k: int) -> list[dict[str, Any]]:
    params = listing.params.fork()
    conditions = [*listing.direct, *listing.conditions]
    if lower_us is not None:
        bound = params.bind(lower_us, INT)
        conditions.append(f"{listing.time_column} >= fromUnixTimestamp64Micro({bound}, 'UTC')")
    return await ch.rows(
        f"SELECT id, toUnixTimestamp64Micro({listing.time_column}) AS t_us FROM {listing.table} "
        f"WHERE {where(conditions)} ORDER BY {listing.order} LIMIT {k:d}",
        params.values,
    )


async def _verify(ch: ClickHouse, listing: Listing, ids: list[str], raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not ids:
        return []
    params = listing.params.fork()
    lo = min(int(r["t_us"]) for r in raw) - _SLACK_US
    hi = max(int(r["t_us"]) for r in raw) + _SLACK_US
    column = listing.time_column
    bounded = [
        *listing.direct,
        f"id IN {params.bind(ids, STRINGS)}",
        f"{column} >= fromUnixTimestamp64Micro({params.bind(lo, INT)}, 'UTC')",
        f"{column} <= fromUnixTimestamp64Micro({params.bind(hi, INT)}, 'UTC')",
    ]
    inner = latest(listing.table, listing.narrow, bounded)
    sql = (
        f"SELECT {listing.picked} FROM ({inner}) WHERE {where(['is_deleted = 0', *listing.conditions])} "
        f"ORDER BY {listing.order}"
    )
    return await ch.rows(sql, params.values)


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


async def count(ch: ClickHouse, listing: Listing) -> int:
    if listing.selective:
        return await _count_selective(ch, listing)
    base = where(listing.direct)
    matching = where(["is_deleted = 0", *listing.conditions])
    rows = await ch.rows(
        f"SELECT countIf({matching}) AS live, countIf(is_deleted = 1) AS dead FROM {listing.table} WHERE {base}",
        listing.params.values,
    )
    live = int(rows[0]["live"]) if rows else 0
    dead = int(rows[0]["dead"]) if rows else 0
    if live == 0:
        return 0
    if live > EXACT_COUNT_LIMIT and dead == 0:
        return await _count_large(ch, listing, [*listing.direct, "is_deleted = 0", *listing.conditions])
    return await _count_exact(ch, listing, live, dead)


async def _count_selective(ch: ClickHouse, listing: Listing) -> int:
    """`count` for few matching rows: the matching rows and their distinct ids in one filtered scan."""
    matching = where([*listing.direct, "is_deleted = 0", *listing.conditions])
    # groupUniqArray stops adding ids once it holds the limit: beyond it the row count is the answer.
    live_rows, dead_rows = await asyncio.gather(
        ch.rows(
            f"SELECT count() AS live, length(groupUniqArray({EXACT_COUNT_LIMIT + 1:d})(id)) AS ids "
            f"FROM {listing.table} WHERE {matching}",
            listing.params.values,
        ),
        ch.rows(
            f"SELECT count() AS dead FROM {listing.table} WHERE {where(listing.direct)} AND is_deleted = 1",
            listing.params.values,
        ),
    )
    live = int(live_rows[0]["live"]) if live_rows else 0
    dead = int(dead_rows[0]["dead"]) if dead_rows else 0
    if dead:
        return await _count_exact(ch, listing, live, dead) if live else 0
    if live <= EXACT_COUNT_LIMIT:
        return int(live_rows[0]["ids"])
    return await _count_large(ch, listing, [matching])


async def _count_exact(ch: ClickHouse, listing: Listing, live: int, dead: int) -> int:
    """Matching live rows without the rows of tombstoned ids; distinct ids for a small result."""
    conditions = [*listing.direct, "is_deleted = 0", *listing.conditions]
    if dead:
        conditions.append(f"id NOT IN (SELECT id FROM {listing.table} WHERE {PROJECT} AND is_deleted = 1)")
    if live > EXACT_COUNT_LIMIT:
        return await _count_large(ch, listing, conditions)
    counted = await ch.rows(
        f"SELECT uniqExact(id) AS n FROM {listing.table} WHERE {where(conditions)}", listing.params.values
    )
    return int(counted[0]["n"]) if counted else 0


# uniqCombined64's relative error is ~0.1-0.5 % at these sizes: within this, rows and ids agree.
_ESTIMATE_TOLERANCE = 0.01


async def _count_large(ch: ClickHouse, listing: Listing, conditions: list[str]) -> int:
    """Rows matching `conditions`, counting versions awaiting a merge once (see the module docstring)."""
    counted = await ch.rows(
        f"SELECT count() AS n, uniqCombined64(id) AS ids FROM {listing.table} WHERE {where(conditions)}",
        listing.params.values,
    )
    if not counted:
        return 0
    rows, ids = int(counted[0]["n"]), int(counted[0]["ids"])
    return rows if rows - ids <= rows * _ESTIMATE_TOLERANCE else min(ids, rows)
