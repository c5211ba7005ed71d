"""Result rows of past UTC days, per query shape, kept until a write touches the day.

A dashboard asks the same metrics again and again over a window that slides a little each
time; with daily buckets, every day but the first and the last is unchanged between two asks
unless a worker wrote rows on it. This cache keeps those days' result rows and forgets one
as soon as PostgreSQL tells it (ROWS_WRITTEN from workers, ROWS_DELETED from deletions) that
its table's rows for that project and day changed.

Correctness rests on three rules:
- an entry is stored only if no change to its day was announced since its query started
  (`begin()` before the query; a change announced meanwhile may or may not be in the result);
- workers announce after their rows are committed and before they acknowledge the queue
  entry, so a crash in between redelivers the payload and announces again;
- while the listening connection is down nothing is read or stored, and everything stored
  before is forgotten (announcements sent meanwhile are lost).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from spyglass.store.postgres.notify import decode_written

log = logging.getLogger("spyglass.query.metrics")

Rows = list[dict[str, Any]]
# Shape: the query minus its time range and row limit (by_day.py); day: days since the epoch.
Key = tuple[str, str, int]  # shape, project, day


class _Entry:
    __slots__ = ("rows", "table")

    def __init__(self, table: str, rows: Rows) -> None:
        self.table = table
        self.rows = rows


class DayCache:
    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._rows = 0
        # (project, day) → keys stored for it: an announcement drops its days' entries without
        # walking the whole cache (announcements come with every worker batch).
        self._index: dict[tuple[str, int], set[Key]] = {}
        # The sequence number of the last announced change, per (table, project, day) and per
        # (table, project) for "every day"; entries started before it are stale.
        self._seq = 0
        self._changed_days: dict[tuple[str, str, int], int] = {}
        self._changed_projects: dict[tuple[str, str], int] = {}
        self._valid_from = 0
        self._listening = False
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.max_rows > 0 and self._listening

    # -- reads -----------------------------------------------------------------------------

    def begin(self) -> int:
        """Call before running a query whose rows may be stored: the token `put` needs."""
        return self._seq

    def get(self, shape: str, project: str, day: int) -> Rows | None:
        if not self.enabled:
            return None
        key = (shape, project, day)
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.rows

    def put(self, table: str, shape: str, project: str, day: int, rows: Rows, token: int) -> None:
        if not self.enabled or token < self._valid_from:
            return
        if self._changed_days.get((table, project, day), -1) > token:
            return
        if self._changed_projects.get((table, project), -1) > token:
            return
        if len(rows) > self.max_rows // 10:
            return  # one huge day would push out everything else
        key = (shape, project, day)
        self._remove(key)
        self._entries[key] = _Entry(table, rows)
        self._index.setdefault((project, day), set()).add(key)
        self._rows += len(rows)
        while self._rows > self.max_rows and self._entries:
            self._remove(next(iter(self._entries)))

    # -- changes ---------------------------------------------------------------------------

    def listening(self, up: bool) -> None:
        """The announcement channel came up or went down: either way, start from nothing."""
        self._listening = up
        self._forget_all()

    def on_written(self, payload: str) -> None:
        for table, project, days in decode_written(payload):
            if days is None:
                self.on_project_changed(project, table)
                continue
            self._seq += 1
            for day in days:
                self._changed_days[(table, project, day)] = self._seq
                self._drop(project, day, table)
        if len(self._changed_days) > 100_000:
            self._forget_all()  # bounds the change log; costs one refill

    def on_project_changed(self, project: str, table: str | None = None) -> None:
        """Rows of `project` changed on unknown days (a deletion: every table)."""
        self._seq += 1
        for t in (table,) if table else ("traces", "observations", "scores"):
            self._changed_projects[(t, project)] = self._seq
        for indexed_project, day in [k for k in self._index if k[0] == project]:
            self._drop(indexed_project, day, table)

    def _drop(self, project: str, day: int, table: str | None) -> None:
        for key in list(self._index.get((project, day), ())):
            if table is None or self._entries[key].table == table:
                self._remove(key)

    def _remove(self, key: Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._rows -= len(entry.rows)
        keys = self._index[(key[1], key[2])]
        keys.discard(key)
        if not keys:
            del self._index[(key[1], key[2])]

    def _forget_all(self) -> None:
        self._seq += 1
        self._valid_from = self._seq
        self._entries.clear()
        self._index.clear()
        self._rows = 0
        self._changed_days.clear()
        self._changed_projects.clear()
