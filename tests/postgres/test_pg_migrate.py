"""Migrations: versioned, idempotent, transactional, and safe to race."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from spyglass.store.errors import StartupError
from spyglass.store.postgres.migrate import Migration, load_migrations, migrate
from spyglass.store.postgres.pool import create_pool

EXPECTED_TABLES = {
    "organizations",
    "projects",
    "users",
    "organization_memberships",
    "project_memberships",
    "api_keys",
    "prompts",
    "prompt_dependencies",
    "prompt_protected_labels",
    "datasets",
    "dataset_items",
    "dataset_item_versions",
    "dataset_runs",
    "models",
    "pricing_tiers",
    "prices",
    "score_configs",
    "comments",
    "comment_reactions",
    "media",
    "trace_media",
    "observation_media",
    "trace_sessions",
    "dead_letters",
    "schema_migrations",
}


async def _tables(conn: asyncpg.Pool) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r["tablename"] for r in rows}


def test_migration_files_are_numbered_and_ordered() -> None:
    migrations = load_migrations()
    assert migrations, "no migration shipped"
    versions = [m.version for m in migrations]
    # Gaps are allowed (parallel branches reserve numbers); order and uniqueness are not optional.
    assert versions == sorted(set(versions))
    assert versions[0] == 1 and migrations[0].name == "core"


async def test_apply_then_reapply_is_a_no_op(fresh_dsn: str) -> None:
    pool = await create_pool(fresh_dsn, max_size=2)
    try:
        first = await migrate(pool)
        assert first.applied == [m.label for m in load_migrations()]
        assert EXPECTED_TABLES <= await _tables(pool)

        second = await migrate(pool)
        assert second.applied == []
        assert second.current_version == first.current_version
        count = await pool.fetchval("SELECT count(*) FROM schema_migrations")
        assert count == len(load_migrations())
    finally:
        await pool.close()


async def test_two_processes_migrating_at_once_apply_each_migration_once(fresh_dsn: str) -> None:
    a = await create_pool(fresh_dsn, max_size=1)
    b = await create_pool(fresh_dsn, max_size=1)
    try:
        ra, rb = await asyncio.gather(migrate(a), migrate(b))
        labels = [m.label for m in load_migrations()]
        # Exactly one of them did the work; the other waited on the lock and found nothing to do.
        assert sorted([ra.applied, rb.applied]) == [[], labels]
        rows = await a.fetch("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == [m.version for m in load_migrations()]
    finally:
        await a.close()
        await b.close()


async def test_edited_migration_is_detected(fresh_pool: asyncpg.Pool) -> None:
    edited = [Migration(m.version, m.name, m.sql + "\n-- edited") for m in load_migrations()]
    with pytest.raises(StartupError) as err:
        await migrate(fresh_pool, migrations=edited)
    assert "changed after it was applied" in str(err.value)


async def test_failing_migration_rolls_back_completely(fresh_pool: asyncpg.Pool) -> None:
    broken = Migration(9999, "broken", "CREATE TABLE half_done (id int); SELECT * FROM no_such_table;")
    with pytest.raises(StartupError) as err:
        await migrate(fresh_pool, migrations=[*load_migrations(), broken])
    assert "9999_broken" in str(err.value)
    assert "half_done" not in await _tables(fresh_pool)
    assert await fresh_pool.fetchval("SELECT count(*) FROM schema_migrations WHERE version = 9999") == 0
    # The advisory lock was released: a later run proceeds (and has nothing left to do).
    report = await asyncio.wait_for(migrate(fresh_pool), 5)
    assert report.applied == []
