"""Fixtures: one embedded PostgreSQL for the session, a database per test where isolation matters.

- `pg_server`: the EmbeddedPostgres (fsync off), started in a temp dir, stopped at the end.
- `pg_pool`: a pool on a migrated database shared by the session; tests add their own rows
  under their own organizations/projects, so they do not see each other.
- `fresh_dsn` / `fresh_pool`: a brand-new empty database (fresh_pool: migrated) for tests that
  need to see "nothing there yet" (migrations, headless init); dropped afterwards.
- `cluster_copy`: a directory holding a stopped, initialised cluster (a copy of one made once
  per session), for the launcher tests; copying is ~10x faster than initdb.
- `project` / `keys`: a project of its own in `pg_pool`, and the API-key store (salt `KEY_SALT`).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from spyglass.store.postgres.api_keys import ApiKeys
from spyglass.store.postgres.embedded import EmbeddedPostgres, dsn_for_socket
from spyglass.store.postgres.migrate import migrate
from spyglass.store.postgres.pool import create_pool
from spyglass.store.postgres.rows import Project
from spyglass.store.postgres.tenancy import Tenancy

KEY_SALT = "test-salt"


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "postgres", durable=False)
    server.start()
    yield server
    server.stop()


async def _create_database(server: EmbeddedPostgres, name: str) -> str:
    conn = await asyncpg.connect(server.dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return dsn_for_socket(server.socket_dir, database=name)


async def _drop_database(server: EmbeddedPostgres, name: str) -> None:
    conn = await asyncpg.connect(server.dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def pg_pool(pg_server: EmbeddedPostgres) -> AsyncIterator[asyncpg.Pool]:
    dsn = await _create_database(pg_server, "spyglass_shared")
    pool = await create_pool(dsn, max_size=4)
    await migrate(pool)
    yield pool
    await pool.close()


@pytest.fixture
async def project(pg_pool: asyncpg.Pool) -> Project:
    tenancy = Tenancy(pg_pool)
    org = await tenancy.create_organization(f"org-{uuid.uuid4().hex[:8]}")
    return await tenancy.create_project(org.id, "keys")


@pytest.fixture
def keys(pg_pool: asyncpg.Pool) -> ApiKeys:
    return ApiKeys(pg_pool, KEY_SALT)


@pytest.fixture
async def fresh_dsn(pg_server: EmbeddedPostgres) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    dsn = await _create_database(pg_server, name)
    yield dsn
    await _drop_database(pg_server, name)


@pytest.fixture
async def fresh_pool(fresh_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(fresh_dsn, max_size=4)
    await migrate(pool)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def _cluster_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pgtemplate") / "postgres"
    server = EmbeddedPostgres(directory, durable=False)
    server.start()
    server.stop()
    return directory


@pytest.fixture
def cluster_copy(_cluster_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "postgres"
    # symlinks=True: nothing to follow in a fresh cluster, and copying preserves modes.
    shutil.copytree(_cluster_template, target, symlinks=True)
    return target
