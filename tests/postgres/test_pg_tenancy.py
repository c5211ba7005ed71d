"""Organizations, projects and users."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from spyglass.store.postgres.dead_letters import DeadLetters
from spyglass.store.postgres.faults import Conflict, NotFound
from spyglass.store.postgres.tenancy import Tenancy
from spyglass.store.postgres.users import Users


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_organizations_create_list_get(pg_pool: asyncpg.Pool) -> None:
    tenancy = Tenancy(pg_pool)
    name = _name("org")
    org = await tenancy.create_organization(name, metadata={"tier": "free"})
    assert org.name == name and org.metadata == {"tier": "free"}
    assert await tenancy.get_organization(org.id) == org
    assert await tenancy.get_organization_by_name(name) == org
    assert org.id in {o.id for o in await tenancy.list_organizations()}
    assert await tenancy.get_organization("missing") is None
    with pytest.raises(Conflict):
        await tenancy.create_organization("again", id=org.id)


async def test_projects_create_list_get_by_name(pg_pool: asyncpg.Pool) -> None:
    tenancy = Tenancy(pg_pool)
    org = await tenancy.create_organization(_name("org"))
    a = await tenancy.create_project(org.id, "alpha", retention_days=30, metadata={"team": "x"})
    b = await tenancy.create_project(org.id, "beta", id="proj-" + uuid.uuid4().hex)
    assert a.org_id == org.id and a.retention_days == 30 and a.metadata == {"team": "x"}
    assert b.id.startswith("proj-")
    assert [p.id for p in await tenancy.list_projects(org.id)] == [a.id, b.id]
    assert await tenancy.get_project(a.id) == a
    assert await tenancy.get_project_by_name("beta", org_id=org.id) == b
    with pytest.raises(Conflict):
        await tenancy.create_project(org.id, "alpha")
    with pytest.raises(NotFound):
        await tenancy.create_project("no-such-org", "gamma")


async def test_soft_deleted_project_disappears_and_frees_its_name(pg_pool: asyncpg.Pool) -> None:
    tenancy = Tenancy(pg_pool)
    org = await tenancy.create_organization(_name("org"))
    doomed = await tenancy.create_project(org.id, "doomed")
    assert await tenancy.soft_delete_project(doomed.id)
    assert not await tenancy.soft_delete_project(doomed.id)
    assert await tenancy.get_project(doomed.id) is None
    assert await tenancy.get_project_by_name("doomed", org_id=org.id) is None
    assert await tenancy.list_projects(org.id) == []
    kept = await tenancy.get_project(doomed.id, include_deleted=True)
    assert kept is not None and kept.deleted_at is not None
    assert [p.id for p in await tenancy.list_projects(org.id, include_deleted=True)] == [doomed.id]
    # The name can be used again by a new project.
    reborn = await tenancy.create_project(org.id, "doomed")
    assert reborn.id != doomed.id


async def test_users_passwords_and_roles(pg_pool: asyncpg.Pool) -> None:
    users, tenancy = Users(pg_pool), Tenancy(pg_pool)
    email = f"{_name('Ada')}@Example.com"
    user = await users.create_user(email, name="Ada", password="correct horse")
    assert await users.get_user_by_email(email.lower()) == user
    assert await users.check_password(email, "correct horse") == user
    assert await users.check_password(email, "wrong") is None
    assert await users.check_password("nobody@example.com", "correct horse") is None
    stored = await pg_pool.fetchval("SELECT password_hash FROM users WHERE id = $1", user.id)
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    with pytest.raises(Conflict):
        await users.create_user(email.upper())

    org = await tenancy.create_organization(_name("org"))
    await users.set_org_role(org.id, user.id, "VIEWER")
    await users.set_org_role(org.id, user.id, "ADMIN")
    assert await users.get_org_role(org.id, user.id) == "ADMIN"
    with pytest.raises(NotFound):
        await users.set_org_role("no-such-org", user.id, "ADMIN")


async def test_dead_letters_are_recorded_and_listed(pg_pool: asyncpg.Pool) -> None:
    letters = DeadLetters(pg_pool)
    project = _name("proj")
    before = await letters.count()
    await letters.record(project_id=project, source="otel", blob_key="k/1", reason="bad span", attempts=1)
    await letters.record(project_id=project, source="ingestion", blob_key="", reason="schema", attempts=5)
    await letters.record(project_id=None, source="otel", blob_key="k/3", reason="no project", attempts=1)
    recent = await letters.list(project_id=project)
    assert [(d.source, d.blob_key, d.attempts) for d in recent] == [("ingestion", None, 5), ("otel", "k/1", 1)]
    assert await letters.count() == before + 3
