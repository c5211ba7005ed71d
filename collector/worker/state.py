"""Current rows of recently touched entities, so merges rarely read ClickHouse.

The worker merges updates into the newest stored version of a trace, observation or score.
A bounded LRU per table keeps the versions this worker wrote; a miss reads ClickHouse once
per batch for all missing ids (newest version by event_ts; tombstones count as absent).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

import msgspec

from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.rows import TIME_COLUMNS, ObservationRow, ScoreRow, TraceRow

R = TypeVar("R", TraceRow, ObservationRow, ScoreRow)

_TABLE: dict[type[msgspec.Struct], str] = {TraceRow: "traces", ObservationRow: "observations", ScoreRow: "scores"}


class RowCache(Generic[R]):
    def __init__(self, kind: type[R], max_entries: int = 50_000) -> None:
        self.kind: type[R] = kind
        self.table = _TABLE[kind]
        self._max = max_entries
        self._rows: OrderedDict[tuple[str, str], R] = OrderedDict()

    def get(self, project_id: str, row_id: str) -> R | None:
        key = (project_id, row_id)
        row = self._rows.get(key)
        if row is not None:
            self._rows.move_to_end(key)
        return row

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._rows

    def put_many(self, rows: Iterable[R]) -> None:
        for row in rows:
            key = (row.project_id, row.id)
            self._rows[key] = row
            self._rows.move_to_end(key)
        while len(self._rows) > self._max:
            self._rows.popitem(last=False)

    def drop(self, project_id: str, ids: Iterable[str]) -> None:
        """Forget these rows (newer versions were written without passing through the cache)."""
        if not self._rows:
            return
        for i in ids:
            self._rows.pop((project_id, i), None)

    def forget_project(self, project_id: str) -> None:
        for key in [k for k in self._rows if k[0] == project_id]:
            del self._rows[key]

    def clear(self) -> None:
        self._rows.clear()

    async def load(self, ch: ClickHouse, project_id: str, ids: Iterable[str]) -> dict[str, R]:
        """Rows for `ids`: cached ones, plus one ClickHouse read for the rest."""
        found: dict[str, R] = {}
        missing: list[str] = []
        for i in ids:
            row = self.get(project_id, i)
            if row is not None:
                found[i] = row
            else:
                missing.append(i)
        if missing:
            for row in await read_latest(ch, self.kind, project_id, missing):
                found[row.id] = row
        return found


def _select_list(kind: type[msgspec.Struct]) -> str:
    table = _TABLE[kind]
    times = set(TIME_COLUMNS[table])
    cols = []
    for name in kind.__struct_fields__:
        if name in times:
            cols.append(f"toUnixTimestamp64Micro({name}) AS {name}")
        else:
            cols.append(f"`{name}`")
    return ", ".join(cols)


_SELECTS = {k: _select_list(k) for k in _TABLE}


async def read_latest(ch: ClickHouse, kind: type[R], project_id: str, ids: list[str]) -> list[R]:
    table = _TABLE[kind]
    out: list[R] = []
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        rows = await ch.rows(
            f"SELECT {_SELECTS[kind]} FROM {table} "
            "WHERE project_id = {p:String} AND id IN {ids:Array(String)} "
            "ORDER BY event_ts DESC LIMIT 1 BY id",
            {"p": project_id, "ids": chunk},
        )
        out.extend(_live(kind, rows))
    return out


async def read_child_events(
    ch: ClickHouse, project_id: str, trace_ids: list[str], parent_ids: list[str], name_prefix: str
) -> list[ObservationRow]:
    """Current EVENT observations under `parent_ids` (of those traces) whose name starts with
    `name_prefix`: e.g. the GenAI log events of generations (`otel/log_events.py`)."""
    out: list[ObservationRow] = []
    for start in range(0, len(parent_ids), 5000):
        rows = await ch.rows(
            f"SELECT {_SELECTS[ObservationRow]} FROM observations "
            "WHERE project_id = {p:String} AND type = 'EVENT' AND trace_id IN {t:Array(String)} "
            "AND parent_observation_id IN {ids:Array(String)} AND startsWith(name, {prefix:String}) "
            "ORDER BY event_ts DESC LIMIT 1 BY id",
            {"p": project_id, "t": trace_ids, "ids": parent_ids[start : start + 5000], "prefix": name_prefix},
        )
        out.extend(_live(ObservationRow, rows))
    return out


def _live(kind: type[R], rows: list[dict[str, Any]]) -> list[R]:
    """Stored rows as structs, tombstones left out."""
    times = TIME_COLUMNS[_TABLE[kind]]
    out: list[R] = []
    for r in rows:
        if r.get("is_deleted"):
            continue
        for t in times:
            v = r.get(t)
            if v is not None:
                r[t] = int(v) / 1e6
        if "public" in r:
            r["public"] = bool(r["public"])
        if "bookmarked" in r:
            r["bookmarked"] = bool(r["bookmarked"])
        out.append(msgspec.convert(r, kind, strict=False))
    return out
