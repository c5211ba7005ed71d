"""API keys: secrets shown once and stored hashed; verification, revocation, scopes."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from spyglass.store.errors import ConfigError
from spyglass.store.postgres.api_keys import ApiKeys
from spyglass.store.postgres.faults import NotFound
from spyglass.store.postgres.rows import Project
from spyglass.store.postgres.tenancy import Tenancy
from tests.postgres.conftest import KEY_SALT as SALT


async def test_created_key_verifies_with_its_secret(keys: ApiKeys, project: Project) -> None:
    created = await keys.create_key(project.id, note="ci")
    assert re.fullmatch(r"pk-lf-[0-9a-f-]{36}", created.public_key)
    assert re.fullmatch(r"sk-lf-[0-9a-f-]{36}", created.secret_key)
    assert created.display_secret_key == f"sk-lf-...{created.secret_key[-4:]}"

    scope = await keys.verify(created.public_key, created.secret_key)
    assert scope is not None
    assert scope.project_id == project.id
    assert scope.organization_id == project.org_id
    assert scope.key_id == created.id
    assert scope.public_key == created.public_key
    assert scope.access_level == "project"


async def test_wrong_or_unknown_credentials_do_not_verify(keys: ApiKeys, project: Project) -> None:
    created = await keys.create_key(project.id)
    other = await keys.create_key(project.id)
    assert await keys.verify(created.public_key, created.secret_key + "x") is None
    assert await keys.verify(created.public_key, other.secret_key) is None
    assert await keys.verify("pk-lf-unknown", created.secret_key) is None
    assert await keys.verify(created.public_key, "") is None


async def test_secret_is_never_stored_in_clear(keys: ApiKeys, project: Project, pg_pool: asyncpg.Pool) -> None:
    created = await keys.create_key(project.id)
    row = await pg_pool.fetchrow("SELECT * FROM api_keys WHERE id = $1", created.id)
    assert row is not None
    stored = " ".join(str(v) for v in row.values())
    assert created.secret_key not in stored
    assert created.secret_key[6:-4] not in stored  # not even the middle of it
    # The stored hash is Langfuse's: sha256hex(secret || sha256hex(SALT)).
    salt_hex = hashlib.sha256(SALT.encode()).hexdigest()
    assert row["hashed_secret_key"] == hashlib.sha256((created.secret_key + salt_hex).encode()).hexdigest()
    # And a dump of the whole table does not contain it either.
    dump = await pg_pool.fetchval("SELECT string_agg(t::text, ' ') FROM api_keys t")
    assert created.secret_key not in dump


async def test_salt_matters(pg_pool: asyncpg.Pool, project: Project) -> None:
    created = await ApiKeys(pg_pool, "salt-one").create_key(project.id)
    assert await ApiKeys(pg_pool, "salt-one").verify(created.public_key, created.secret_key) is not None
    assert await ApiKeys(pg_pool, "salt-two").verify(created.public_key, created.secret_key) is None


def test_empty_salt_is_refused(pg_pool: asyncpg.Pool) -> None:
    with pytest.raises(ConfigError):
        ApiKeys(pg_pool, "")


async def test_revoked_key_no_longer_verifies(keys: ApiKeys, project: Project) -> None:
    by_public = await keys.create_key(project.id)
    by_id = await keys.create_key(project.id)
    assert await keys.revoke_key(by_public.public_key)
    assert await keys.revoke_key(by_id.id)
    assert await keys.verify(by_public.public_key, by_public.secret_key) is None
    assert await keys.verify(by_id.public_key, by_id.secret_key) is None
    assert await keys.find_public(by_public.public_key) is None
    # Revoking twice, or an unknown key, reports that nothing was revoked.
    assert not await keys.revoke_key(by_public.public_key)
    assert not await keys.revoke_key("pk-lf-nope")


async def test_revoke_is_confined_to_the_given_project(keys: ApiKeys, project: Project, pg_pool: asyncpg.Pool) -> None:
    created = await keys.create_key(project.id)
    other = await Tenancy(pg_pool).create_project(project.org_id, "other")
    assert not await keys.revoke_key(created.id, project_id=other.id)
    assert await keys.verify(created.public_key, created.secret_key) is not None
    assert await keys.revoke_key(created.id, project_id=project.id)


async def test_list_shows_display_form_only(keys: ApiKeys, project: Project) -> None:
    a = await keys.create_key(project.id, note="a")
    b = await keys.create_key(project.id, note="b")
    await keys.revoke_key(b.id)
    listed = await keys.list_keys(project.id)
    assert [k.public_key for k in listed] == [a.public_key]
    assert listed[0].display_secret_key == a.display_secret_key
    assert listed[0].note == "a"
    assert not hasattr(listed[0], "secret_key")
    with_revoked = await keys.list_keys(project.id, include_revoked=True)
    assert {k.id for k in with_revoked} == {a.id, b.id}
    assert next(k for k in with_revoked if k.id == b.id).revoked_at is not None


async def test_expired_key_does_not_verify(keys: ApiKeys, project: Project) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    created = await keys.create_key(project.id, expires_at=past)
    assert await keys.verify(created.public_key, created.secret_key) is None


async def test_keys_of_a_deleted_project_stop_working(keys: ApiKeys, project: Project, pg_pool: asyncpg.Pool) -> None:
    created = await keys.create_key(project.id)
    assert await Tenancy(pg_pool).soft_delete_project(project.id)
    assert await keys.verify(created.public_key, created.secret_key) is None
    assert await keys.find_public(created.public_key) is None
    with pytest.raises(NotFound):
        await keys.create_key(project.id)


async def test_public_key_alone_grants_scores_access(keys: ApiKeys, project: Project) -> None:
    created = await keys.create_key(project.id)
    scope = await keys.find_public(created.public_key)
    assert scope is not None
    assert scope.access_level == "scores"
    assert scope.project_id == project.id
    assert await keys.find_public("pk-lf-unknown") is None


async def test_organization_key(keys: ApiKeys, project: Project) -> None:
    created = await keys.create_org_key(project.org_id, note="admin")
    scope = await keys.verify(created.public_key, created.secret_key)
    assert scope is not None
    assert scope.access_level == "organization"
    assert scope.project_id is None
    assert scope.organization_id == project.org_id
    # An org key is no project key: it cannot post scores, and is not listed with the project's.
    assert await keys.find_public(created.public_key) is None
    assert created.id not in {k.id for k in await keys.list_keys(project.id)}
    assert [k.id for k in await keys.list_org_keys(project.org_id)] == [created.id]
    with pytest.raises(NotFound):
        await keys.create_org_key("no-such-org")


async def test_last_used_is_written_at_most_once_per_interval(pg_pool: asyncpg.Pool, project: Project) -> None:
    keys = ApiKeys(pg_pool, SALT, touch_interval=3600)
    created = await keys.create_key(project.id)

    async def last_used() -> datetime | None:
        return await pg_pool.fetchval("SELECT last_used_at FROM api_keys WHERE id = $1", created.id)

    assert await last_used() is None
    assert await keys.verify(created.public_key, created.secret_key)
    first = await last_used()
    assert first is not None
    for _ in range(5):
        assert await keys.verify(created.public_key, created.secret_key)
    assert await last_used() == first

    # With no interval every use is recorded (and a failed verify records nothing).
    eager = ApiKeys(pg_pool, SALT, touch_interval=0)
    assert await eager.verify(created.public_key, created.secret_key + "x") is None
    assert await last_used() == first
    assert await eager.verify(created.public_key, created.secret_key)
    second = await last_used()
    assert second is not None and second > first
