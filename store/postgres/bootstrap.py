"""Headless initialisation: Langfuse's LANGFUSE_INIT_* resources, created once at startup.

The resources form a tree, and each needs its parent's id (as in Langfuse):

    organization (ORG_ID)
    ├── project (PROJECT_ID)
    │   └── API key pair (PROJECT_PUBLIC_KEY + PROJECT_SECRET_KEY)
    └── user, OWNER of the organization (USER_EMAIL + USER_PASSWORD)

Existing rows are never modified: values are defaults for creation, so re-running with the same
(or changed) values is a no-op once everything exists. With nothing set and no organization in
the database, a default organization, project and key pair are created instead, and the new
secret is returned so the caller can print it once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import asyncpg
import msgspec

from spyglass.store.errors import ConfigError
from spyglass.store.postgres.api_keys import insert_key
from spyglass.store.postgres.faults import db_errors
from spyglass.store.postgres.hashing import hash_password, hash_secret_key, new_key_pair, same_hash
from spyglass.store.postgres.ids import new_id
from spyglass.store.postgres.pool import Conn
from spyglass.store.postgres.rows import CreatedKey

DEFAULT_ORG_NAME = "Default Organization"
DEFAULT_PROJECT_NAME = "Default Project"
# Langfuse's names when the *_NAME variables are unset.
PROVISIONED_ORG_NAME = "Provisioned Org"
PROVISIONED_PROJECT_NAME = "Provisioned Project"
# Serialises concurrent starters (transaction-scoped advisory lock): int8 of b"SPYINIT\0".
_INIT_LOCK_KEY = int.from_bytes(b"SPYINIT\0", "big") & 0x7FFF_FFFF_FFFF_FFFF

_ENV = {
    "org_id": "LANGFUSE_INIT_ORG_ID",
    "org_name": "LANGFUSE_INIT_ORG_NAME",
    "project_id": "LANGFUSE_INIT_PROJECT_ID",
    "project_name": "LANGFUSE_INIT_PROJECT_NAME",
    "project_retention": "LANGFUSE_INIT_PROJECT_RETENTION",
    "project_public_key": "LANGFUSE_INIT_PROJECT_PUBLIC_KEY",
    "project_secret_key": "LANGFUSE_INIT_PROJECT_SECRET_KEY",
    "user_email": "LANGFUSE_INIT_USER_EMAIL",
    "user_name": "LANGFUSE_INIT_USER_NAME",
    "user_password": "LANGFUSE_INIT_USER_PASSWORD",
}


class InitSpec(msgspec.Struct, frozen=True, kw_only=True):
    """The LANGFUSE_INIT_* values; None (or absent) means unset."""

    org_id: str | None = None
    org_name: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    project_retention: int | None = None  # days
    project_public_key: str | None = None
    project_secret_key: str | None = None
    user_email: str | None = None
    user_name: str | None = None
    user_password: str | None = None

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> InitSpec:
        """Read the LANGFUSE_INIT_* keys of a mapping (the caller passes its environment)."""
        values: dict[str, object] = {}
        for field, var in _ENV.items():
            raw = env.get(var, "").strip()
            if raw:
                values[field] = raw
        retention = values.get("project_retention")
        if retention is not None:
            try:
                days = int(str(retention))
            except ValueError:
                raise ConfigError(_ENV["project_retention"], f"not a number of days: {retention!r}") from None
            if days < 0:
                raise ConfigError(_ENV["project_retention"], "must be >= 0")
            values["project_retention"] = days
        return cls(**values)  # type: ignore[arg-type]

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, f) is None for f in self.__struct_fields__)

    def __repr__(self) -> str:
        # Never print the secret key or the password.
        shown = {
            f: ("***" if f in ("project_secret_key", "user_password") else getattr(self, f))
            for f in self.__struct_fields__
            if getattr(self, f) is not None
        }
        return f"InitSpec({', '.join(f'{k}={v!r}' for k, v in shown.items())})"


class InitResult(msgspec.Struct, kw_only=True):
    """What ensure_init created. Everything None/False/empty means: nothing changed."""

    organization_id: str | None = None
    project_id: str | None = None
    user_id: str | None = None
    # The user was made OWNER of the organization (new user, or existing one without membership).
    membership_created: bool = False
    # The public key stored from LANGFUSE_INIT_PROJECT_PUBLIC_KEY/SECRET_KEY.
    imported_public_key: str | None = None
    # Only on the default path: the generated pair, secret included. Print it once.
    default_key: CreatedKey | None = None
    # Values that were set but could not be used, one line each (e.g. a project without org).
    warnings: list[str] = []

    @property
    def changed(self) -> bool:
        return any(
            (
                self.organization_id,
                self.project_id,
                self.user_id,
                self.membership_created,
                self.imported_public_key,
                self.default_key,
            )
        )


async def ensure_init(pool: asyncpg.Pool, init: InitSpec, *, salt: str) -> InitResult:
    """Create the configured resources that do not exist yet; idempotent and safe to race."""
    if not salt:
        raise ConfigError("SALT", "must be set (API keys are stored as salted hashes)")
    # The KDF is slow (~50 ms) and CPU-bound: run it before the transaction, off the loop.
    password_hash = None
    if init.user_password and init.user_email and init.org_id:
        with db_errors():
            known = await pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1))", init.user_email
            )
        if not known:
            password_hash = await asyncio.to_thread(hash_password, init.user_password)
    result = InitResult()
    with db_errors():
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _INIT_LOCK_KEY)
            if init.is_empty:
                await _default(conn, salt, result)
            else:
                await _configured(conn, init, salt, password_hash, result)
    return result


async def _default(conn: Conn, salt: str, result: InitResult) -> None:
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM organizations)"):
        return
    org_id, project_id = new_id(), new_id()
    await conn.execute("INSERT INTO organizations (id, name) VALUES ($1, $2)", org_id, DEFAULT_ORG_NAME)
    await conn.execute(
        "INSERT INTO projects (id, org_id, name) VALUES ($1, $2, $3)",
        project_id,
        org_id,
        DEFAULT_PROJECT_NAME,
    )
    public_key, secret_key = new_key_pair()
    result.organization_id = org_id
    result.project_id = project_id
    result.default_key = await insert_key(
        conn,
        salt=salt,
        scope="PROJECT",
        organization_id=org_id,
        project_id=project_id,
        public_key=public_key,
        secret_key=secret_key,
        note="created at first start",
    )


async def _configured(conn: Conn, init: InitSpec, salt: str, password_hash: str | None, result: InitResult) -> None:
    warn = result.warnings.append
    if init.org_id is None:
        warn("LANGFUSE_INIT_ORG_ID is not set: no organization, project, key or user was initialised")
        return
    if await conn.fetchval(
        "INSERT INTO organizations (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING id",
        init.org_id,
        init.org_name or PROVISIONED_ORG_NAME,
    ):
        result.organization_id = init.org_id

    if init.project_id is not None:
        await _project(conn, init, salt, result)
    elif init.project_public_key or init.project_secret_key:
        warn("LANGFUSE_INIT_PROJECT_ID is not set: the API key was not initialised")

    if init.user_email is not None:
        await _user(conn, init, password_hash, result)


async def _project(conn: Conn, init: InitSpec, salt: str, result: InitResult) -> None:
    warn = result.warnings.append
    assert init.org_id is not None and init.project_id is not None
    # No conflict target: an id that exists, or a name taken in the org, both mean "leave it".
    if await conn.fetchval(
        "INSERT INTO projects (id, org_id, name, retention_days) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING RETURNING id",
        init.project_id,
        init.org_id,
        init.project_name or PROVISIONED_PROJECT_NAME,
        init.project_retention,
    ):
        result.project_id = init.project_id
    project = await conn.fetchrow("SELECT org_id, deleted_at FROM projects WHERE id = $1", init.project_id)
    if project is None:
        warn(
            f"project {init.project_id!r} was not created: organization {init.org_id!r} already has "
            f"a project named {init.project_name or PROVISIONED_PROJECT_NAME!r}"
        )
        return
    if project["org_id"] != init.org_id:
        warn(f"project {init.project_id!r} belongs to organization {project['org_id']!r}, not {init.org_id!r}")

    public_key, secret_key = init.project_public_key, init.project_secret_key
    if not (public_key and secret_key):
        if public_key or secret_key:
            warn("only one of LANGFUSE_INIT_PROJECT_PUBLIC_KEY / _SECRET_KEY is set: no key initialised")
        return
    existing = await conn.fetchrow(
        "SELECT project_id, hashed_secret_key, revoked_at FROM api_keys WHERE public_key = $1", public_key
    )
    if existing is not None:
        if existing["project_id"] != init.project_id:
            warn(f"API key {public_key} exists in another project; left as it is")
        elif not same_hash(existing["hashed_secret_key"], hash_secret_key(secret_key, salt)):
            warn(f"API key {public_key} exists with a different secret (or SALT); left as it is")
        elif existing["revoked_at"] is not None:
            warn(f"API key {public_key} was revoked; left revoked")
        return
    if await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM api_keys WHERE hashed_secret_key = $1)",
        hash_secret_key(secret_key, salt),
    ):
        warn("LANGFUSE_INIT_PROJECT_SECRET_KEY is already the secret of another key: no key initialised")
        return
    await insert_key(
        conn,
        salt=salt,
        scope="PROJECT",
        organization_id=project["org_id"],
        project_id=init.project_id,
        public_key=public_key,
        secret_key=secret_key,
        note="LANGFUSE_INIT_PROJECT_PUBLIC_KEY",
    )
    result.imported_public_key = public_key


async def _user(conn: Conn, init: InitSpec, password_hash: str | None, result: InitResult) -> None:
    assert init.org_id is not None and init.user_email is not None
    user_id = await conn.fetchval("SELECT id FROM users WHERE lower(email) = lower($1)", init.user_email)
    if user_id is None:
        if password_hash is None:
            result.warnings.append("LANGFUSE_INIT_USER_PASSWORD is not set: the user was not initialised")
            return
        user_id = new_id()
        await conn.execute(
            "INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)",
            user_id,
            init.user_email,
            init.user_name,
            password_hash,
        )
        result.user_id = user_id
    if await conn.fetchval(
        "INSERT INTO organization_memberships (id, org_id, user_id, role) VALUES ($1, $2, $3, 'OWNER') "
        "ON CONFLICT (org_id, user_id) DO NOTHING RETURNING id",
        new_id(),
        init.org_id,
        user_id,
    ):
        result.membership_created = True
