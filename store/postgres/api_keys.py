"""API keys: creation (secret shown once), listing, revocation and request authentication."""

from __future__ import annotations

import logging
import time
from datetime import datetime

import asyncpg
import msgspec

from spyglass.store.errors import ConfigError
from spyglass.store.postgres.faults import NotFound, db_errors
from spyglass.store.postgres.hashing import display_secret_key, hash_secret_key, new_key_pair, same_hash
from spyglass.store.postgres.ids import new_id
from spyglass.store.postgres.pool import Conn
from spyglass.store.postgres.rows import AccessLevel, ApiKeyInfo, AuthScope, CreatedKey, KeyScope

_log = logging.getLogger(__name__)

_INFO_COLS = (
    "id, scope, project_id, organization_id, public_key, display_secret_key, note, "
    "created_at, last_used_at, expires_at, revoked_at"
)
# A key authenticates while it is not revoked or expired and its project (if any) is live.
_USABLE = """
    FROM api_keys k LEFT JOIN projects p ON p.id = k.project_id
    WHERE k.public_key = $1
      AND k.revoked_at IS NULL
      AND (k.expires_at IS NULL OR k.expires_at > now())
      AND (k.project_id IS NULL OR p.deleted_at IS NULL)
"""
_NEVER_MATCHES = "0" * 64


class ApiKeys:
    """Keys of projects and organizations.

    `salt` is the deployment's SALT setting, passed in by the caller. Changing it invalidates
    every stored key, exactly as in Langfuse (and keys hashed by Langfuse with the same SALT
    verify here).
    """

    def __init__(self, pool: asyncpg.Pool, salt: str, *, touch_interval: float = 60.0) -> None:
        if not salt:
            raise ConfigError("SALT", "must be set (API keys are stored as salted hashes)")
        self._pool = pool
        self._salt = salt
        self._touch_interval = touch_interval
        # key id -> monotonic time of our last last_used_at write; bounds writes to one per
        # interval per key per process, whatever the request rate.
        self._touched: dict[str, float] = {}
        # Authentication lookups made (verify and find_public): what the throttle in front of
        # this store bounds, observable by tests and operators.
        self.lookups = 0

    # ---- create -------------------------------------------------------------------------

    async def create_key(
        self, project_id: str, note: str | None = None, *, expires_at: datetime | None = None
    ) -> CreatedKey:
        """A new project key. The returned secret is not stored anywhere: show it once."""
        public_key, secret_key = new_key_pair()
        with db_errors():
            org_id = await self._pool.fetchval(
                "SELECT org_id FROM projects WHERE id = $1 AND deleted_at IS NULL", project_id
            )
            if org_id is None:
                raise NotFound(f"project {project_id!r} does not exist")
            return await insert_key(
                self._pool,
                salt=self._salt,
                scope="PROJECT",
                organization_id=org_id,
                project_id=project_id,
                public_key=public_key,
                secret_key=secret_key,
                note=note,
                expires_at=expires_at,
            )

    async def create_org_key(
        self, organization_id: str, note: str | None = None, *, expires_at: datetime | None = None
    ) -> CreatedKey:
        """A new organization-scoped key (for the organization and admin APIs)."""
        public_key, secret_key = new_key_pair()
        with db_errors():
            try:
                return await insert_key(
                    self._pool,
                    salt=self._salt,
                    scope="ORGANIZATION",
                    organization_id=organization_id,
                    project_id=None,
                    public_key=public_key,
                    secret_key=secret_key,
                    note=note,
                    expires_at=expires_at,
                )
            except asyncpg.ForeignKeyViolationError:
                raise NotFound(f"organization {organization_id!r} does not exist") from None

    # ---- list and revoke ----------------------------------------------------------------

    async def list_keys(self, project_id: str, *, include_revoked: bool = False) -> list[ApiKeyInfo]:
        with db_errors():
            rows = await self._pool.fetch(
                f"SELECT {_INFO_COLS} FROM api_keys WHERE project_id = $1 AND ($2 OR revoked_at IS NULL) "
                "ORDER BY created_at, id",
                project_id,
                include_revoked,
            )
        return [msgspec.convert(dict(r), ApiKeyInfo) for r in rows]

    async def list_org_keys(self, organization_id: str, *, include_revoked: bool = False) -> list[ApiKeyInfo]:
        """Organization-scoped keys only (project keys are listed per project)."""
        with db_errors():
            rows = await self._pool.fetch(
                f"SELECT {_INFO_COLS} FROM api_keys WHERE organization_id = $1 AND scope = 'ORGANIZATION' "
                "AND ($2 OR revoked_at IS NULL) ORDER BY created_at, id",
                organization_id,
                include_revoked,
            )
        return [msgspec.convert(dict(r), ApiKeyInfo) for r in rows]

    async def revoke_key(self, key: str, *, project_id: str | None = None) -> bool:
        """Revoke by public key or id; with project_id, only a key of that project.

        False if no such live key. The row stays (last use, audit) but never authenticates.
        """
        with db_errors():
            status = await self._pool.execute(
                "UPDATE api_keys SET revoked_at = now() "
                "WHERE (public_key = $1 OR id = $1) AND revoked_at IS NULL "
                "AND ($2::text IS NULL OR project_id = $2)",
                key,
                project_id,
            )
        return status != "UPDATE 0"

    # ---- authenticate -------------------------------------------------------------------

    async def verify(self, public_key: str, secret_key: str) -> AuthScope | None:
        """The scope of a Basic-auth pair, or None (unknown, wrong secret, revoked, expired)."""
        # Hash before the lookup so an unknown public key costs the same work as a wrong secret.
        presented = hash_secret_key(secret_key, self._salt)
        self.lookups += 1
        with db_errors():
            row = await self._pool.fetchrow(
                "SELECT k.id, k.scope, k.project_id, k.organization_id, k.hashed_secret_key " + _USABLE,
                public_key,
            )
        stored = row["hashed_secret_key"] if row else _NEVER_MATCHES
        if not same_hash(presented, stored) or row is None:
            return None
        await self._touch(row["id"])
        level: AccessLevel = "organization" if row["scope"] == "ORGANIZATION" else "project"
        return AuthScope(
            project_id=row["project_id"],
            organization_id=row["organization_id"],
            public_key=public_key,
            key_id=row["id"],
            access_level=level,
        )

    async def find_public(self, public_key: str) -> AuthScope | None:
        """Public key alone (no secret): 'scores' access to its project, for browser feedback."""
        self.lookups += 1
        with db_errors():
            row = await self._pool.fetchrow(
                "SELECT k.id, k.project_id, k.organization_id " + _USABLE + " AND k.scope = 'PROJECT'",
                public_key,
            )
        if row is None:
            return None
        await self._touch(row["id"])
        return AuthScope(
            project_id=row["project_id"],
            organization_id=row["organization_id"],
            public_key=public_key,
            key_id=row["id"],
            access_level="scores",
        )

    async def _touch(self, key_id: str) -> None:
        now = time.monotonic()
        last = self._touched.get(key_id)
        if last is not None and now - last < self._touch_interval:
            return
        self._touched[key_id] = now
        try:
            # The SQL guard also holds across processes: N replicas still write at most once per
            # interval between them (give or take a race).
            await self._pool.execute(
                "UPDATE api_keys SET last_used_at = now() WHERE id = $1 AND "
                "(last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))",
                key_id,
                self._touch_interval,
            )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            # Bookkeeping only: never fail a request because of it.
            _log.warning("postgres: could not record API key use: %s", exc)


async def insert_key(
    conn: asyncpg.Pool | Conn,
    *,
    salt: str,
    scope: KeyScope,
    organization_id: str,
    project_id: str | None,
    public_key: str,
    secret_key: str,
    note: str | None = None,
    expires_at: datetime | None = None,
) -> CreatedKey:
    """Store a key (hashed) and return it with its secret; shared by the repository and init."""
    row = await conn.fetchrow(
        "INSERT INTO api_keys (id, scope, project_id, organization_id, public_key, hashed_secret_key, "
        "display_secret_key, note, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
        "RETURNING id, created_at",
        new_id(),
        scope,
        project_id,
        organization_id,
        public_key,
        hash_secret_key(secret_key, salt),
        display_secret_key(secret_key),
        note,
        expires_at,
    )
    assert row is not None
    return CreatedKey(
        id=row["id"],
        scope=scope,
        project_id=project_id,
        organization_id=organization_id,
        public_key=public_key,
        secret_key=secret_key,
        display_secret_key=display_secret_key(secret_key),
        note=note,
        created_at=row["created_at"],
    )
