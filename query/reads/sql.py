"""Building ClickHouse SQL whose every value is a bound server-side parameter.

Identifiers (tables, columns, sort directions) only ever come from constants in this package;
anything a client sent goes through :meth:`Params.bind` and reaches ClickHouse as `{vN:Type}`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

STRING = "String"
STRINGS = "Array(String)"
FLOAT = "Float64"
INT = "Int64"
TIME = "DateTime64(6, 'UTC')"


class Params:
    """Named query parameters; `bind` returns the placeholder to splice into the SQL text."""

    def __init__(self, **fixed: Any) -> None:
        self.values: dict[str, Any] = dict(fixed)
        self._n = 0

    def fork(self) -> Params:
        """A copy to add more parameters to without touching this one's."""
        other = Params(**self.values)
        other._n = self._n
        return other

    def bind(self, value: Any, type_: str) -> str:
        self._n += 1
        name = f"v{self._n}"
        self.values[name] = ch_time(value) if type_ == TIME else value
        return "{" + name + ":" + type_ + "}"


def ch_time(value: datetime | str) -> str:
    """A DateTime64(6, 'UTC') parameter value (ClickHouse parses this text form exactly)."""
    if isinstance(value, str):
        return value
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def where(conditions: Iterable[str]) -> str:
    parts = [c for c in conditions if c]
    return " AND ".join(parts) if parts else "1"


def latest(table: str, columns: str, conditions: Iterable[str]) -> str:
    """The newest version of each row id matching `conditions` (tombstones included: callers
    filter `is_deleted = 0` outside, so a deleted row cannot fall back to an older version).

    `LIMIT 1 BY` instead of FINAL: it reads only the granules the WHERE keeps (skip indexes apply),
    which is what makes point lookups fast; FINAL would merge every part of the range.
    """
    return f"SELECT {columns} FROM {table} WHERE {where(conditions)} ORDER BY event_ts DESC LIMIT 1 BY id"
