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


class DayCache:
    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self._entries: OrderedDict[Key, Rows] = OrderedDict()
        self._rows = 0
        self._table_of: dict[str, str] = {}  # shape → table
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
        rows = self._entries.get((shape, project, day))
        if rows is None:
            self.misses += 1
            return None
        self._entries.move_to_end((shape, project, day))
        self.hits += 1
        return rows

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
        old = self._entries.pop(key, None)
        if old is not None:
            self._rows -= len(old)
        self._entries[key] = rows
        self._table_of[shape] = table
        self._rows += len(rows)
        while self._rows > self.max_rows and self._entries:
            _, evicted = self._entries.popitem(last=False)
            self._rows -= len(evicted)

    # -- changes ---------------------------------------------------------------------------

    def listening(self, up: bool) -> None:
        """The announcement channel came up or went down: either way, start from nothing."""
        self._listening = up
        self._forget_all()

    def on_written(self, payload: str) -> None:
        for table, project, days in decode_written(payload):
            if days is None:
                self.on_project_changed(project, table)
            else:
                self._seq += 1
                for day in days:
                    self._changed_days[(table, project, day)] = self._seq
                self._drop(project, table, set(days))
        if len(self._changed_days) > 100_000:
            self._forget_all()  # bounds the change log; costs one refill

    def on_project_changed(self, project: str, table: str | None = None) -> None:
        """Rows of `project` changed on unknown days (a deletion: every table)."""
        self._seq += 1
        for t in (table,) if table else ("traces", "observations", "scores"):
            self._changed_projects[(t, project)] = self._seq
        self._drop(project, table, None)

    def _drop(self, project: str, table: str | None, days: set[int] | None) -> None:
        stale = [
            key
            for key in self._entries
            if key[1] == project
            and (days is None or key[2] in days)
            and (table is None or self._table_of.get(key[0]) == table)
        ]
        for key in stale:
            self._rows -= len(self._entries.pop(key))

    def _forget_all(self) -> None:
        self._seq += 1
        self._valid_from = self._seq
        self._entries.clear()
        self._rows = 0
        self._changed_days.clear()
        self._changed_projects.clear()
