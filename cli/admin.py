"""Admin commands. They reach PostgreSQL directly: the configured server, the bundled one
started for the duration of the command, or — while `spyglass serve` runs — the bundled one
that serve owns, through its unix socket."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import click

from spyglass.cli.runtime import DataDirLock, load_or_create_secrets
from spyglass.cli.serve import public_url_of
from spyglass.cli.settings import Settings
from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.migrate import migrate as migrate_clickhouse
from spyglass.store.errors import StartupError
from spyglass.store.postgres.api_keys import ApiKeys
from spyglass.store.postgres.database import PostgresStore
from spyglass.store.postgres.embedded import EmbeddedPostgres, dsn_for_socket
from spyglass.store.postgres.pool import create_pool
from spyglass.store.postgres.rows import Project
from spyglass.store.postgres.tenancy import Tenancy


@contextlib.asynccontextmanager
async def admin_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    if settings.postgres.url is None and DataDirLock(settings.data_dir).held_by_other():
        socket_dir = EmbeddedPostgres(settings.postgres.embedded_dir).socket_dir
        pool = await create_pool(dsn_for_socket(socket_dir), min_size=1, max_size=2)
        try:
            yield pool
        finally:
            await pool.close()
        return
    store = await PostgresStore.open(settings.postgres)
    try:
        yield store.pool
    finally:
        await store.close()


def _salt(settings: Settings) -> str:
    return load_or_create_secrets(settings.data_dir, settings.salt).salt


async def _project(tenancy: Tenancy, ref: str) -> Project:
    project = await tenancy.get_project(ref) or await tenancy.get_project_by_name(ref)
    if project is None:
        raise StartupError("project", None, f"no project with id or name {ref!r}")
    return project


async def migrate_all(settings: Settings) -> int:
    lock = None
    if settings.clickhouse.embedded or settings.postgres.embedded:
        lock = DataDirLock(settings.data_dir)
        lock.acquire()  # serve applies migrations itself; stop it before migrating by hand
    try:
        ch = ClickHouse(settings.clickhouse)
        await ch.open()
        try:
            applied = await migrate_clickhouse(ch)
        finally:
            await ch.close()
        click.echo(f"clickhouse: {len(applied)} migration(s) applied")
        store = await PostgresStore.open(settings.postgres)
        try:
            report = store.migrations
            applied_pg = len(report.applied) if report else 0
            click.echo(f"postgres: {applied_pg} migration(s) applied")
        finally:
            await store.close()
    finally:
        if lock is not None:
            lock.release()
    return 0


async def check_health(settings: Settings, url: str | None) -> int:
    base = (url or public_url_of(settings)).rstrip("/")
    target = f"{base}/api/public/health?failIfDatabaseUnavailable=true"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            async with http.get(target) as r:
                body = await r.json(content_type=None)
                status = r.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        click.echo(f"spyglass at {base}: unreachable ({exc.__class__.__name__}: {exc})", err=True)
        return 1
    click.echo(f"{base}: HTTP {status} {body.get('status')} (version {body.get('version')})")
    return 0 if status == 200 else 1


async def create_project(settings: Settings, name: str, org_name: str | None) -> int:
    async with admin_pool(settings) as pool:
        tenancy = Tenancy(pool)
        orgs = await tenancy.list_organizations()
        if org_name:
            org = await tenancy.get_organization_by_name(org_name) or await tenancy.create_organization(org_name)
        elif orgs:
            org = orgs[0]
        else:
            org = await tenancy.create_organization("default")
        project = await tenancy.create_project(org.id, name)
        key = await ApiKeys(pool, _salt(settings)).create_key(project.id)
    click.echo(f"project {project.name} ({project.id}) in organization {org.name}")
    _print_key(key.public_key, key.secret_key)
    return 0


async def list_projects(settings: Settings) -> int:
    async with admin_pool(settings) as pool:
        tenancy = Tenancy(pool)
        orgs = {o.id: o.name for o in await tenancy.list_organizations()}
        projects = await tenancy.list_projects()
    for p in projects:
        click.echo(f"{p.id}\t{p.name}\t{orgs.get(p.org_id, p.org_id)}")
    return 0


async def create_key(settings: Settings, project_ref: str, note: str | None) -> int:
    async with admin_pool(settings) as pool:
        project = await _project(Tenancy(pool), project_ref)
        key = await ApiKeys(pool, _salt(settings)).create_key(project.id, note)
    click.echo(f"new key for project {project.name} ({project.id})")
    _print_key(key.public_key, key.secret_key)
    return 0


async def list_keys(settings: Settings, project_ref: str) -> int:
    async with admin_pool(settings) as pool:
        project = await _project(Tenancy(pool), project_ref)
        keys = await ApiKeys(pool, _salt(settings)).list_keys(project.id, include_revoked=True)
    for k in keys:
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
        used = f"last used {k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "never used"
        click.echo(f"{k.public_key}\t{k.display_secret_key}\t{state}\t{used}\t{k.note or ''}")
    return 0


async def revoke_key(settings: Settings, public_key: str) -> int:
    async with admin_pool(settings) as pool:
        done = await ApiKeys(pool, _salt(settings)).revoke_key(public_key)
    if not done:
        click.echo(f"no active key {public_key}", err=True)
        return 1
    click.echo(f"revoked {public_key} (running servers stop accepting it within api.api_key_cache_seconds)")
    return 0


def _print_key(public_key: str, secret_key: str) -> None:
    click.echo(f"  LANGFUSE_PUBLIC_KEY={public_key}")
    click.echo(f"  LANGFUSE_SECRET_KEY={secret_key}")
    click.echo("The secret is shown only now; Spyglass stores only its salted hash.", err=not sys.stdout.isatty())
