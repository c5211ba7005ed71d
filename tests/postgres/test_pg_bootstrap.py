"""Headless initialisation (LANGFUSE_INIT_*), and the default org/project/key of a first start."""

from __future__ import annotations

import asyncio

import asyncpg
import msgspec
import pytest

from spyglass.store.errors import ConfigError
from spyglass.store.postgres.api_keys import ApiKeys
from spyglass.store.postgres.bootstrap import InitSpec, ensure_init
from spyglass.store.postgres.users import Users

SALT = "bootstrap-salt"

FULL = InitSpec(
    org_id="org-init",
    org_name="Init Org",
    project_id="proj-init",
    project_name="Init Project",
    project_retention=30,
    project_public_key="pk-lf-init-public",
    project_secret_key="sk-lf-init-secret-0000",
    user_email="owner@example.com",
    user_name="Owner",
    user_password="s3cret-pass",
)


async def _counts(pool: asyncpg.Pool) -> dict[str, int]:
    tables = ("organizations", "projects", "api_keys", "users", "organization_memberships")
    return {t: await pool.fetchval(f"SELECT count(*) FROM {t}") for t in tables}


async def test_first_start_without_settings_creates_a_default_key(fresh_pool: asyncpg.Pool) -> None:
    result = await ensure_init(fresh_pool, InitSpec(), salt=SALT)
    assert result.changed
    key = result.default_key
    assert key is not None and key.secret_key.startswith("sk-lf-")
    assert key.project_id == result.project_id and key.organization_id == result.organization_id
    scope = await ApiKeys(fresh_pool, SALT).verify(key.public_key, key.secret_key)
    assert scope is not None and scope.project_id == result.project_id
    assert await _counts(fresh_pool) == {
        "organizations": 1,
        "projects": 1,
        "api_keys": 1,
        "users": 0,
        "organization_memberships": 0,
    }

    # Later starts create nothing and reveal no secret.
    again = await ensure_init(fresh_pool, InitSpec(), salt=SALT)
    assert not again.changed and again.default_key is None
    assert (await _counts(fresh_pool))["api_keys"] == 1


async def test_no_default_when_an_organization_already_exists(fresh_pool: asyncpg.Pool) -> None:
    await fresh_pool.execute("INSERT INTO organizations (id, name) VALUES ('o', 'Existing')")
    result = await ensure_init(fresh_pool, InitSpec(), salt=SALT)
    assert not result.changed
    assert (await _counts(fresh_pool))["projects"] == 0


async def test_configured_init_creates_everything_once(fresh_pool: asyncpg.Pool) -> None:
    result = await ensure_init(fresh_pool, FULL, salt=SALT)
    assert result.organization_id == "org-init"
    assert result.project_id == "proj-init"
    assert result.imported_public_key == "pk-lf-init-public"
    assert result.user_id is not None and result.membership_created
    assert result.default_key is None and result.warnings == []

    project = await fresh_pool.fetchrow("SELECT name, org_id, retention_days FROM projects")
    assert dict(project) == {"name": "Init Project", "org_id": "org-init", "retention_days": 30}
    scope = await ApiKeys(fresh_pool, SALT).verify("pk-lf-init-public", "sk-lf-init-secret-0000")
    assert scope is not None and scope.project_id == "proj-init"
    assert "sk-lf-init-secret-0000" not in await fresh_pool.fetchval("SELECT string_agg(t::text, ' ') FROM api_keys t")
    users = Users(fresh_pool)
    owner = await users.check_password("owner@example.com", "s3cret-pass")
    assert owner is not None and owner.name == "Owner"
    assert await users.get_org_role("org-init", owner.id) == "OWNER"

    before = await _counts(fresh_pool)
    stamps = await fresh_pool.fetch("SELECT updated_at FROM organizations UNION ALL SELECT updated_at FROM users")
    again = await ensure_init(fresh_pool, FULL, salt=SALT)
    assert not again.changed and again.warnings == []
    assert await _counts(fresh_pool) == before
    assert (
        await fresh_pool.fetch("SELECT updated_at FROM organizations UNION ALL SELECT updated_at FROM users") == stamps
    )


async def test_changed_values_do_not_overwrite_existing_rows(fresh_pool: asyncpg.Pool) -> None:
    await ensure_init(fresh_pool, FULL, salt=SALT)
    changed = msgspec.structs.replace(FULL, org_name="Renamed", project_secret_key="sk-lf-other", user_password="new")
    result = await ensure_init(fresh_pool, changed, salt=SALT)
    assert not result.changed
    assert any("different secret" in w for w in result.warnings)
    assert await fresh_pool.fetchval("SELECT name FROM organizations") == "Init Org"
    assert await ApiKeys(fresh_pool, SALT).verify("pk-lf-init-public", "sk-lf-other") is None
    assert await Users(fresh_pool).check_password("owner@example.com", "s3cret-pass") is not None


async def test_resources_without_their_parent_are_skipped(fresh_pool: asyncpg.Pool) -> None:
    orphan = InitSpec(project_id="p", project_public_key="pk-lf-x", project_secret_key="sk-lf-x")
    result = await ensure_init(fresh_pool, orphan, salt=SALT)
    assert not result.changed
    assert result.warnings and "LANGFUSE_INIT_ORG_ID" in result.warnings[0]
    assert await _counts(fresh_pool) == dict.fromkeys(await _counts(fresh_pool), 0)

    half_key = InitSpec(org_id="o", project_id="p", project_public_key="pk-lf-x")
    result = await ensure_init(fresh_pool, half_key, salt=SALT)
    assert result.organization_id == "o" and result.project_id == "p"
    assert result.imported_public_key is None
    assert any("only one of" in w for w in result.warnings)

    no_password = InitSpec(org_id="o", user_email="a@b.c")
    result = await ensure_init(fresh_pool, no_password, salt=SALT)
    assert result.user_id is None
    assert (await _counts(fresh_pool))["users"] == 0


async def test_concurrent_first_starts_create_one_default(fresh_pool: asyncpg.Pool) -> None:
    results = await asyncio.gather(*(ensure_init(fresh_pool, InitSpec(), salt=SALT) for _ in range(3)))
    assert sum(r.default_key is not None for r in results) == 1
    assert (await _counts(fresh_pool))["organizations"] == 1


def test_spec_from_environment() -> None:
    env = {
        "LANGFUSE_INIT_ORG_ID": "org",
        "LANGFUSE_INIT_PROJECT_ID": " proj ",
        "LANGFUSE_INIT_PROJECT_RETENTION": "14",
        "LANGFUSE_INIT_USER_PASSWORD": "pw",
        "LANGFUSE_INIT_USER_NAME": "",
        "UNRELATED": "x",
    }
    spec = InitSpec.from_mapping(env)
    assert spec == InitSpec(org_id="org", project_id="proj", project_retention=14, user_password="pw")
    assert "pw" not in repr(spec)
    assert InitSpec.from_mapping({}).is_empty
    with pytest.raises(ConfigError):
        InitSpec.from_mapping({"LANGFUSE_INIT_PROJECT_RETENTION": "forever"})
