"""Behaviour built into the schema itself: item history, updated_at, uniqueness rules."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from spyglass.store.postgres.ids import new_id


@pytest.fixture
async def project_id(pg_pool: asyncpg.Pool) -> str:
    org, project = new_id(), new_id()
    await pg_pool.execute("INSERT INTO organizations (id, name) VALUES ($1, 'schema')", org)
    await pg_pool.execute("INSERT INTO projects (id, org_id, name) VALUES ($1, $2, 'schema')", project, org)
    return project


async def _items_as_of(pool: asyncpg.Pool, project_id: str, dataset_id: str, at: object) -> dict[str, object]:
    rows = await pool.fetch(
        "SELECT id, input FROM dataset_item_versions WHERE project_id = $1 AND dataset_id = $2 "
        "AND valid_from <= $3 AND (valid_to IS NULL OR valid_to > $3) AND NOT is_deleted",
        project_id,
        dataset_id,
        at,
    )
    return {r["id"]: r["input"] for r in rows}


async def _now(pool: asyncpg.Pool) -> object:
    # A fresh statement outside any transaction: strictly after earlier commits.
    await asyncio.sleep(0.002)
    return await pool.fetchval("SELECT clock_timestamp()")


async def test_dataset_items_can_be_read_as_of_a_time(pg_pool: asyncpg.Pool, project_id: str) -> None:
    ds = new_id()
    await pg_pool.execute("INSERT INTO datasets (id, project_id, name) VALUES ($1, $2, $3)", ds, project_id, f"ds-{ds}")
    insert = "INSERT INTO dataset_items (id, project_id, dataset_id, input) VALUES ($1, $2, $3, $4)"
    await pg_pool.execute(insert, "a", project_id, ds, {"q": 1})
    t1 = await _now(pg_pool)
    await pg_pool.execute(insert, "b", project_id, ds, {"q": 2})
    await pg_pool.execute(
        "UPDATE dataset_items SET input = $3 WHERE id = $1 AND project_id = $2", "a", project_id, {"q": 10}
    )
    t2 = await _now(pg_pool)
    await pg_pool.execute("DELETE FROM dataset_items WHERE id = 'b' AND project_id = $1", project_id)
    # A write that changes nothing visible adds no version.
    await pg_pool.execute("UPDATE dataset_items SET input = input WHERE project_id = $1", project_id)
    t3 = await _now(pg_pool)

    assert await _items_as_of(pg_pool, project_id, ds, t1) == {"a": {"q": 1}}
    assert await _items_as_of(pg_pool, project_id, ds, t2) == {"a": {"q": 10}, "b": {"q": 2}}
    assert await _items_as_of(pg_pool, project_id, ds, t3) == {"a": {"q": 10}}
    versions = await pg_pool.fetchval(
        "SELECT count(*) FROM dataset_item_versions WHERE project_id = $1 AND dataset_id = $2", project_id, ds
    )
    assert versions == 4  # a1, a2, b, b-tombstone


async def test_several_changes_in_one_transaction_make_one_version(pg_pool: asyncpg.Pool, project_id: str) -> None:
    ds = new_id()
    await pg_pool.execute("INSERT INTO datasets (id, project_id, name) VALUES ($1, $2, $1)", ds, project_id)
    async with pg_pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO dataset_items (id, project_id, dataset_id, input) VALUES ('x', $1, $2, '1')",
            project_id,
            ds,
        )
        await conn.execute("UPDATE dataset_items SET input = '2' WHERE id = 'x' AND project_id = $1", project_id)
    rows = await pg_pool.fetch(
        "SELECT input, valid_to FROM dataset_item_versions WHERE project_id = $1 AND id = 'x'", project_id
    )
    assert [(r["input"], r["valid_to"]) for r in rows] == [(2, None)]


async def test_deleting_a_dataset_removes_its_items_and_history(pg_pool: asyncpg.Pool, project_id: str) -> None:
    ds = new_id()
    await pg_pool.execute("INSERT INTO datasets (id, project_id, name) VALUES ($1, $2, $1)", ds, project_id)
    await pg_pool.execute(
        "INSERT INTO dataset_items (id, project_id, dataset_id) VALUES ('gone', $1, $2)", project_id, ds
    )
    await pg_pool.execute("DELETE FROM datasets WHERE id = $1", ds)
    for table in ("dataset_items", "dataset_item_versions"):
        count = await pg_pool.fetchval(f"SELECT count(*) FROM {table} WHERE dataset_id = $1", ds)
        assert count == 0, table


async def test_updated_at_is_maintained(pg_pool: asyncpg.Pool, project_id: str) -> None:
    before = await pg_pool.fetchval("SELECT updated_at FROM projects WHERE id = $1", project_id)
    await asyncio.sleep(0.002)
    after = await pg_pool.fetchval(
        "UPDATE projects SET name = 'renamed' WHERE id = $1 RETURNING updated_at", project_id
    )
    assert after > before


async def test_one_builtin_model_per_name(pg_pool: asyncpg.Pool) -> None:
    name = f"model-{uuid.uuid4().hex[:8]}"
    insert = "INSERT INTO models (id, model_name, match_pattern) VALUES ($1, $2, '(?i)^x$')"
    await pg_pool.execute(insert, new_id(), name)
    # project_id, start_date and unit are all NULL: still a duplicate (NULLS NOT DISTINCT).
    with pytest.raises(asyncpg.UniqueViolationError):
        await pg_pool.execute(insert, new_id(), name)


async def test_api_key_scope_must_match_project(pg_pool: asyncpg.Pool, project_id: str) -> None:
    org = await pg_pool.fetchval("SELECT org_id FROM projects WHERE id = $1", project_id)
    with pytest.raises(asyncpg.CheckViolationError):
        await pg_pool.execute(
            "INSERT INTO api_keys (id, public_key, hashed_secret_key, display_secret_key, organization_id, "
            "scope) VALUES ($1, $1, $1, 'x', $2, 'PROJECT')",
            new_id(),
            org,
        )


async def test_media_is_unique_per_hash_and_type(pg_pool: asyncpg.Pool, project_id: str) -> None:
    insert = (
        "INSERT INTO media (id, project_id, sha_256_hash, content_type, content_length, bucket_name, "
        "bucket_path) VALUES ($1, $2, 'h', $3, 1, 'b', 'p')"
    )
    await pg_pool.execute(insert, new_id(), project_id, "image/png")
    await pg_pool.execute(insert, new_id(), project_id, "image/jpeg")
    with pytest.raises(asyncpg.UniqueViolationError):
        await pg_pool.execute(insert, new_id(), project_id, "image/png")


def test_ids_are_unique_and_time_ordered() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 25 and i.startswith("c") for i in ids)
    # The first 9 chars are the millisecond clock: non-decreasing in creation order.
    assert [i[:9] for i in ids] == sorted(i[:9] for i in ids)
