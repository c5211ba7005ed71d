"""Statements assembled from optional filters: numbered parameters, AND-ed conditions, pages.

    args = Args(project_id)                      # $1
    where = Where(args, "i.project_id = $1")
    where.equals("i.dataset_id", dataset_id)     # "i.dataset_id = $2", skipped when None
    where.any_of("r.name", names)                # "r.name = ANY($3::text[])", skipped when empty
    rows, total = await page(pool, args, select="SELECT ... FROM dataset_items i", count_from="dataset_items i",
                             where=where, order_by="i.created_at DESC, i.id", offset=0, limit=50)

Values are always bound as parameters; only column names and fixed SQL go into the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from spyglass.store.postgres.faults import db_errors
from spyglass.store.postgres.pool import Conn


class Args:
    """The parameters of one statement: `args(value)` binds a value and returns its `$n`."""

    def __init__(self, *initial: Any) -> None:
        self.values: list[Any] = list(initial)

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


class Where:
    """Conditions AND-ed together, binding their values to `args`; str() is the WHERE body."""

    def __init__(self, args: Args, *conditions: str) -> None:
        self.args = args
        self.conditions = list(conditions)

    def add(self, condition: str) -> None:
        self.conditions.append(condition)

    def equals(self, column: str, value: Any) -> None:
        """`column = value`, unless value is None (no filter)."""
        if value is not None:
            self.conditions.append(f"{column} = {self.args(value)}")

    def any_of(self, column: str, values: Sequence[str]) -> None:
        """`column` is one of the text `values`, unless there are none (no filter)."""
        if values:
            self.conditions.append(f"{column} = ANY({self.args(list(values))}::text[])")

    def __str__(self) -> str:
        return " AND ".join(self.conditions)


async def page(
    db: asyncpg.Pool | Conn,
    args: Args,
    *,
    select: str,
    count_from: str,
    where: Where | str,
    order_by: str,
    offset: int,
    limit: int | None,
) -> tuple[list[asyncpg.Record], int]:
    """One page of `select ... WHERE where ORDER BY order_by` (no LIMIT when `limit` is None),
    with the number of rows of `count_from` matching `where` over all pages."""
    count_values = list(args.values)
    paging = f"OFFSET {args(offset)}" + (f" LIMIT {args(limit)}" if limit is not None else "")
    with db_errors():
        rows = await db.fetch(f"{select} WHERE {where} ORDER BY {order_by} {paging}", *args.values)
        total = await db.fetchval(f"SELECT count(*) FROM {count_from} WHERE {where}", *count_values)
    return list(rows), int(total)
