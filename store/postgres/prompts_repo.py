"""Prompt versions in PostgreSQL: create, look up, move labels, delete, list.

Every write for one prompt name runs under a transaction-scoped advisory lock on
(project, name), so concurrent creators get consecutive version numbers and a label move is
one atomic step (readers see it before or after, never on two versions or on none).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from spyglass.store.postgres.faults import Conflict, NotFound, db_errors
from spyglass.store.postgres.ids import new_id
from spyglass.store.postgres.pool import Conn
from spyglass.store.postgres.sql_builder import Args, Where
from spyglass.store.postgres.text import NUL

LATEST = "latest"
_NEWEST = "SELECT max(version) FROM prompts q WHERE q.project_id = $1 AND q.name = $2"

_COLS = (
    "id, project_id, created_by, prompt, name, version, type, config, tags, labels, commit_message, "
    "created_at, updated_at"
)


class PromptConflict(Conflict):
    """The write contradicts stored state (type change, dependents); `message` says how."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PromptNotFound(NotFound):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PromptRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    created_by: str
    prompt: Any
    name: str
    version: int
    type: str
    config: Any
    tags: list[str]
    labels: list[str]
    commit_message: str | None = None
    created_at: datetime
    updated_at: datetime


class DependencyRef(msgspec.Struct, frozen=True):
    """A parent's reference to a child prompt: by version or by label (exactly one)."""

    child_name: str
    child_version: int | None = None
    child_label: str | None = None


class NewVersion(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    type: str
    prompt: Any
    config: Any
    labels: list[str]
    # None: keep the tags the prompt already has.
    tags: list[str] | None
    commit_message: str | None
    created_by: str = "API"


class PromptCondition(msgspec.Struct, frozen=True, kw_only=True):
    """One structured list filter (Langfuse's `filter` query parameter), already validated."""

    type: str  # string | stringOptions | number | datetime | arrayOptions | stringObject
    column: str
    operator: str
    value: Any = None
    key: str | None = None  # the config key, for stringObject


class PromptListFilter(msgspec.Struct, frozen=True, kw_only=True):
    name: str | None = None
    label: str | None = None
    tag: str | None = None
    from_updated_at: datetime | None = None
    to_updated_at: datetime | None = None
    # When given, replaces every field above (as upstream's `filter` does).
    conditions: list[PromptCondition] | None = None


_SCALAR_COLUMNS = {
    "id": "id",
    "name": "name",
    "type": "type",
    "version": "version",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
}
_ARRAY_COLUMNS = {"labels": "labels", "tags": "tags"}
_COMPARE = {"=": "=", ">": ">", "<": "<", ">=": ">=", "<=": "<="}
# Search operators take the value as an ILIKE pattern (`%`, `_`, backslash escapes), as upstream.
_SEARCH = {
    "contains": ("%", "%", False),
    "does not contain": ("%", "%", True),
    "starts with": ("", "%", False),
    "ends with": ("%", "", False),
}


def _condition_sql(c: PromptCondition, bind: Args) -> str:
    if c.type == "stringObject":
        if c.operator == "is set" or (c.operator in _SEARCH and c.value == ""):
            return f"config ? {bind(c.key)}::text"
        if c.operator == "is not set":
            return f"NOT (config ? {bind(c.key)}::text)"
        field = f"(config ->> {bind(c.key)}::text)"
    elif c.type == "arrayOptions":
        field = _ARRAY_COLUMNS[c.column]
        values = bind(list(c.value))
        if c.operator == "any of":
            return f"{field} && {values}::text[]"
        if c.operator == "all of":
            return f"{field} @> {values}::text[]"
        if c.operator == "none of":
            return f"NOT ({field} && {values}::text[])"
        raise ValueError(c.operator)
    else:
        field = _SCALAR_COLUMNS[c.column]
    if c.type == "stringOptions":
        not_sql = "NOT " if c.operator == "none of" else ""
        return f"{not_sql}({field} = ANY({bind(list(c.value))}::text[]))"
    if c.operator in _COMPARE:
        return f"{field} {_COMPARE[c.operator]} {bind(c.value)}"
    if c.operator == "is not empty":
        return f"coalesce({field}, '') <> ''"
    if c.operator in _SEARCH:
        before, after, negate = _SEARCH[c.operator]
        pattern = f"'{before}' || {bind(c.value)} || '{after}'"
        return f"{'NOT ' if negate else ''}coalesce({field}, '') ILIKE {pattern}"
    raise ValueError(f"unsupported prompt filter operator {c.operator!r}")


class PromptSummary(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    type: str
    versions: list[int]
    labels: list[str]
    tags: list[str]
    last_updated_at: datetime
    last_config: Any


def _row(record: asyncpg.Record) -> PromptRow:
    return PromptRow(**dict(record))


async def _lock(conn: Conn, project_id: str, name: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 7702))", project_id, name)


class PromptsRepo:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # ---- reads --------------------------------------------------------------------------

    async def by_version(self, project_id: str, name: str, version: int) -> PromptRow | None:
        with db_errors():
            row = await self._pool.fetchrow(
                f"SELECT {_COLS} FROM prompts WHERE project_id = $1 AND name = $2 AND version = $3",
                project_id,
                name,
                version,
            )
        return _row(row) if row else None

    async def by_label(self, project_id: str, name: str, label: str) -> PromptRow | None:
        # `latest` is maintained as a label, but resolving it by number keeps it right even for
        # rows written before the label existed.
        if label == LATEST:
            sql = f"SELECT {_COLS} FROM prompts WHERE project_id = $1 AND name = $2 ORDER BY version DESC LIMIT 1"
            args: tuple[Any, ...] = (project_id, name)
        else:
            sql = (
                f"SELECT {_COLS} FROM prompts WHERE project_id = $1 AND name = $2 AND $3 = ANY(labels) "
                "ORDER BY version DESC LIMIT 1"
            )
            args = (project_id, name, label)
        with db_errors():
            row = await self._pool.fetchrow(sql, *args)
        return _row(row) if row else None

    async def versions(self, project_id: str, name: str) -> list[PromptRow]:
        with db_errors():
            rows = await self._pool.fetch(
                f"SELECT {_COLS} FROM prompts WHERE project_id = $1 AND name = $2 ORDER BY version DESC",
                project_id,
                name,
            )
        return [_row(r) for r in rows]

    async def find_id(self, project_id: str, name: str, version: int) -> str | None:
        with db_errors():
            return await self._pool.fetchval(
                "SELECT id FROM prompts WHERE project_id = $1 AND name = $2 AND version = $3",
                project_id,
                name,
                version,
            )

    async def list_summaries(
        self, project_id: str, flt: PromptListFilter, *, offset: int, limit: int
    ) -> tuple[list[PromptSummary], int]:
        """One entry per name, aggregated over the versions that match the filter."""
        bind = Args(project_id)
        where = Where(bind, "project_id = $1")
        if flt.conditions is not None:
            for c in flt.conditions:
                where.add(_condition_sql(c, bind))
            flt = PromptListFilter()
        where.equals("name", flt.name)
        if flt.label is not None:
            if flt.label == LATEST:
                where.add(
                    "version = (SELECT max(version) FROM prompts q WHERE q.project_id = prompts.project_id "
                    "AND q.name = prompts.name)"
                )
            else:
                where.add(f"{bind(flt.label)} = ANY(labels)")
        if flt.tag is not None:
            where.add(f"{bind(flt.tag)} = ANY(tags)")
        if flt.from_updated_at is not None:
            where.add(f"updated_at >= {bind(flt.from_updated_at)}")
        if flt.to_updated_at is not None:
            where.add(f"updated_at < {bind(flt.to_updated_at)}")
        filter_values = list(bind.values)
        sql = f"""
            WITH matching AS (SELECT * FROM prompts WHERE {where}),
            label_sets AS (
                SELECT name, array_agg(DISTINCT l ORDER BY l) AS labels
                FROM matching, unnest(labels) l GROUP BY name
            ),
            newest AS (
                SELECT DISTINCT ON (name) name, type, tags, config AS last_config
                FROM matching ORDER BY name, version DESC
            ),
            grouped AS (
                SELECT name, array_agg(version ORDER BY version) AS versions, max(updated_at) AS last_updated_at
                FROM matching GROUP BY name
            )
            SELECT g.*, n.type, n.tags, n.last_config, coalesce(s.labels, '{{}}') AS labels,
                   count(*) OVER () AS total
            FROM grouped g JOIN newest n USING (name) LEFT JOIN label_sets s USING (name)
            ORDER BY g.last_updated_at DESC, g.name
            OFFSET {bind(offset)} LIMIT {bind(limit)}
        """
        with db_errors():
            rows = await self._pool.fetch(sql, *bind.values)
            if rows:
                total = rows[0]["total"]
            else:
                total = await self._pool.fetchval(
                    f"SELECT count(DISTINCT name) FROM prompts WHERE {where}", *filter_values
                )
        out = [
            PromptSummary(
                name=r["name"],
                type=r["type"],
                versions=list(r["versions"]),
                labels=list(r["labels"]),
                tags=list(r["tags"]),
                last_updated_at=r["last_updated_at"],
                last_config=r["last_config"],
            )
            for r in rows
        ]
        return out, int(total or 0)

    # ---- writes -------------------------------------------------------------------------

    async def create_version(
        self, project_id: str, new: NewVersion, dependencies: Sequence[DependencyRef]
    ) -> PromptRow:
        """Append version max+1 with `latest` and the given labels, taking those labels off every
        other version. Conflict if earlier versions have another type."""
        labels = list(dict.fromkeys([*new.labels, LATEST]))
        with db_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                await _lock(conn, project_id, new.name)
                head = await conn.fetchrow(
                    "SELECT version, type, tags FROM prompts WHERE project_id = $1 AND name = $2 "
                    "ORDER BY version DESC LIMIT 1",
                    project_id,
                    new.name,
                )
                if head is not None and head["type"] != new.type:
                    raise PromptConflict(
                        f"prompt '{new.name}' is a {head['type']} prompt; a new version must have the same "
                        f"type (got {new.type}). Use a different name for a {new.type} prompt."
                    )
                version = head["version"] + 1 if head is not None else 1
                tags = new.tags if new.tags is not None else (list(head["tags"]) if head is not None else [])
                await conn.execute(
                    """
                    UPDATE prompts SET labels = ARRAY(SELECT l FROM unnest(labels) l WHERE l <> ALL($3::text[]))
                    WHERE project_id = $1 AND name = $2 AND labels && $3::text[]
                    """,
                    project_id,
                    new.name,
                    labels,
                )
                if head is not None and sorted(tags) != sorted(head["tags"]):
                    await conn.execute(
                        "UPDATE prompts SET tags = $3 WHERE project_id = $1 AND name = $2",
                        project_id,
                        new.name,
                        tags,
                    )
                row = await conn.fetchrow(
                    f"""
                    INSERT INTO prompts (id, project_id, created_by, prompt, name, version, type, config,
                                         tags, labels, commit_message)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                    RETURNING {_COLS}
                    """,
                    new_id(),
                    project_id,
                    new.created_by,
                    new.prompt,
                    new.name,
                    version,
                    new.type,
                    new.config,
                    tags,
                    labels,
                    new.commit_message,
                )
                assert row is not None  # INSERT ... RETURNING always yields the row
                if dependencies:
                    await conn.executemany(
                        "INSERT INTO prompt_dependencies (id, project_id, parent_id, child_name, child_label, "
                        "child_version) VALUES ($1, $2, $3, $4, $5, $6)",
                        [
                            (new_id(), project_id, row["id"], d.child_name, d.child_label, d.child_version)
                            for d in dependencies
                        ],
                    )
        return _row(row)

    async def add_labels(self, project_id: str, name: str, version: int, labels: Sequence[str]) -> PromptRow:
        """Give `labels` to one version (keeping its others), taking them off the other versions."""
        wanted = list(dict.fromkeys(labels))
        with db_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                await _lock(conn, project_id, name)
                current = await conn.fetchrow(
                    "SELECT labels FROM prompts WHERE project_id = $1 AND name = $2 AND version = $3",
                    project_id,
                    name,
                    version,
                )
                if current is None:
                    raise PromptNotFound(f"Prompt version not found: '{name}' version {version}")
                await conn.execute(
                    """
                    UPDATE prompts SET labels = ARRAY(SELECT l FROM unnest(labels) l WHERE l <> ALL($4::text[]))
                    WHERE project_id = $1 AND name = $2 AND version <> $3 AND labels && $4::text[]
                    """,
                    project_id,
                    name,
                    version,
                    wanted,
                )
                merged = list(dict.fromkeys([*current["labels"], *wanted]))
                row = await conn.fetchrow(
                    f"UPDATE prompts SET labels = $4 WHERE project_id = $1 AND name = $2 AND version = $3 "
                    f"RETURNING {_COLS}",
                    project_id,
                    name,
                    version,
                    merged,
                )
        assert row is not None  # the version was checked under the lock
        return _row(row)

    async def delete(
        self, project_id: str, name: str, *, version: int | None = None, label: str | None = None
    ) -> list[PromptRow]:
        """Delete the matching versions (all of them when neither filter is given) and hand
        `latest` to the newest survivor. NotFound if nothing matches; Conflict if another prompt
        still refers to a deleted version or to a label that would disappear."""
        with db_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                await _lock(conn, project_id, name)
                args = Args(project_id, name)
                where = Where(args, "project_id = $1", "name = $2")
                where.equals("version", version)
                if label is not None:
                    where.add(f"version = ({_NEWEST})" if label == LATEST else f"{args(label)} = ANY(labels)")
                rows = await conn.fetch(f"SELECT {_COLS} FROM prompts WHERE {where}", *args.values)
                doomed = [_row(r) for r in rows]
                if not doomed:
                    raise PromptNotFound(_not_found_text(name, version, label))
                doomed_versions = [p.version for p in doomed]
                doomed_labels = sorted({lab for p in doomed for lab in p.labels if lab != LATEST})
                blockers = await conn.fetch(
                    """
                    SELECT p.name, p.version, d.child_version, d.child_label
                    FROM prompt_dependencies d JOIN prompts p ON p.id = d.parent_id
                    WHERE d.project_id = $1 AND d.child_name = $2
                      AND NOT (p.name = $2 AND p.version = ANY($3::int[]))
                      AND (d.child_version = ANY($3::int[]) OR d.child_label = ANY($4::text[]))
                    ORDER BY p.name, p.version
                    """,
                    project_id,
                    name,
                    doomed_versions,
                    doomed_labels,
                )
                if blockers:
                    listing = "; ".join(
                        f"'{b['name']}' version {b['version']} uses "
                        + (f"version {b['child_version']}" if b["child_version"] else f"label '{b['child_label']}'")
                        for b in blockers
                    )
                    raise PromptConflict(
                        f"cannot delete prompt '{name}' {_selection_text(version, label)}: other prompts depend on it "
                        f"({listing}); delete or change those first"
                    )
                await conn.execute(
                    "DELETE FROM prompts WHERE project_id = $1 AND name = $2 AND version = ANY($3::int[])",
                    project_id,
                    name,
                    doomed_versions,
                )
                await conn.execute(
                    """
                    UPDATE prompts SET labels = array_append(labels, 'latest')
                    WHERE project_id = $1 AND name = $2 AND NOT ('latest' = ANY(labels))
                      AND version = (SELECT max(version) FROM prompts q WHERE q.project_id = $1 AND q.name = $2)
                    """,
                    project_id,
                    name,
                )
        return doomed


def _selection_text(version: int | None, label: str | None) -> str:
    if version is not None and label is not None:
        return f"version {version} with label '{label}'"
    if version is not None:
        return f"version {version}"
    if label is not None:
        return f"with label '{label}'"
    return "(all versions)"


def _not_found_text(name: str, version: int | None, label: str | None) -> str:
    if version is None and label is None:
        return f"Prompt not found: '{name}'"
    return f"Prompt not found: '{name}' {_selection_text(version, label)}"


async def find_prompt_id(pool: asyncpg.Pool, project_id: str, name: str, version: int) -> str | None:
    """Uncached lookup; the ingestion worker wants `resolve_prompt_ids` below."""
    return await PromptsRepo(pool).find_id(project_id, name, version)


# ---- prompt ids for generations (ingestion worker) ----------------------------------------
# Versions are immutable, but a deleted version number can be taken again by a new version, so
# hits are kept for a minute only; misses (a generation arriving before its prompt, or a prompt
# of another project) for a few seconds, so a burst of them costs one query.

_HIT_SECONDS = 60.0
_MISS_SECONDS = 5.0
_MAX_ENTRIES = 50_000
_MAX_VERSION = 2**31 - 1
_cache: dict[tuple[str, str, int], tuple[float, str | None]] = {}


def _remember(key: tuple[str, str, int], value: str | None, now: float) -> None:
    if len(_cache) >= _MAX_ENTRIES:
        _cache.clear()
    _cache[key] = (now + (_HIT_SECONDS if value is not None else _MISS_SECONDS), value)


def forget_prompt_ids(project_id: str) -> None:
    """Drop this process's cached lookups of a project (after its prompts changed)."""
    for key in [k for k in _cache if k[0] == project_id]:
        del _cache[key]


async def resolve_prompt_ids(
    pool: asyncpg.Pool, project_id: str, refs: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], str]:
    """(name, version) → prompt id for the refs that exist in the project; one query for all misses."""
    now = time.monotonic()
    found: dict[tuple[str, int], str] = {}
    missing: list[tuple[str, int]] = []
    for name, version in dict.fromkeys(refs):
        if not 1 <= version <= _MAX_VERSION:
            continue  # no such version can exist (and it would not fit the int column)
        if NUL in name:
            continue  # no stored name holds one (and PostgreSQL would refuse the whole query)
        hit = _cache.get((project_id, name, version))
        if hit is not None and hit[0] > now:
            if hit[1] is not None:
                found[(name, version)] = hit[1]
        else:
            missing.append((name, version))
    if missing:
        with db_errors():
            rows = await pool.fetch(
                """
                SELECT p.name, p.version, p.id FROM prompts p
                JOIN unnest($2::text[], $3::int[]) AS r(name, version) ON p.name = r.name AND p.version = r.version
                WHERE p.project_id = $1
                """,
                project_id,
                [n for n, _ in missing],
                [v for _, v in missing],
            )
        ids = {(r["name"], r["version"]): r["id"] for r in rows}
        for ref in missing:
            _remember((project_id, *ref), ids.get(ref), now)
        found.update(ids)
    return found


async def resolve_prompt_id(pool: asyncpg.Pool, project_id: str, name: str, version: int) -> str | None:
    return (await resolve_prompt_ids(pool, project_id, [(name, version)])).get((name, version))


__all__ = [
    "LATEST",
    "DependencyRef",
    "NewVersion",
    "PromptCondition",
    "PromptConflict",
    "PromptListFilter",
    "PromptNotFound",
    "PromptRow",
    "PromptSummary",
    "PromptsRepo",
    "find_prompt_id",
    "forget_prompt_ids",
    "resolve_prompt_id",
    "resolve_prompt_ids",
]
