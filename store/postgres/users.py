"""User accounts and organization memberships."""

from __future__ import annotations

import asyncio
import functools

import asyncpg
import msgspec

from spyglass.store.postgres.faults import Conflict, NotFound, db_errors
from spyglass.store.postgres.hashing import hash_password, verify_password
from spyglass.store.postgres.ids import new_id
from spyglass.store.postgres.rows import Role, User

_USER_COLS = "id, name, email, admin, created_at, updated_at"


class Users:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create_user(
        self,
        email: str,
        *,
        name: str | None = None,
        password: str | None = None,
        admin: bool = False,
        id: str | None = None,
    ) -> User:
        """password None makes an SSO-only account. Hashing runs in a thread (scrypt is ~50 ms)."""
        password_hash = await asyncio.to_thread(hash_password, password) if password is not None else None
        with db_errors():
            try:
                row = await self._pool.fetchrow(
                    "INSERT INTO users (id, email, name, password_hash, admin) VALUES ($1, $2, $3, $4, $5) "
                    f"RETURNING {_USER_COLS}",
                    id or new_id(),
                    email,
                    name,
                    password_hash,
                    admin,
                )
            except asyncpg.UniqueViolationError:
                raise Conflict(f"a user with email {email!r} already exists") from None
        assert row is not None  # INSERT ... RETURNING always yields the row
        return _user(row)

    async def get_user_by_email(self, email: str) -> User | None:
        with db_errors():
            row = await self._pool.fetchrow(f"SELECT {_USER_COLS} FROM users WHERE lower(email) = lower($1)", email)
        return _user(row) if row else None

    async def check_password(self, email: str, password: str) -> User | None:
        """The user if the password matches, else None (also for unknown emails)."""
        with db_errors():
            row = await self._pool.fetchrow(
                f"SELECT {_USER_COLS}, password_hash FROM users WHERE lower(email) = lower($1)", email
            )
        stored = row["password_hash"] if row else None
        # Unknown user or no password: still spend one KDF run, so timing does not tell which.
        ok = await asyncio.to_thread(verify_password, password, stored or _dummy_hash())
        if not (row and stored and ok):
            return None
        return _user(row)

    async def set_org_role(self, org_id: str, user_id: str, role: Role) -> None:
        """Create or change the user's membership of the organization."""
        with db_errors():
            try:
                await self._pool.execute(
                    "INSERT INTO organization_memberships (id, org_id, user_id, role) "
                    "VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role",
                    new_id(),
                    org_id,
                    user_id,
                    role,
                )
            except asyncpg.ForeignKeyViolationError:
                raise NotFound(f"organization {org_id!r} or user {user_id!r} does not exist") from None

    async def get_org_role(self, org_id: str, user_id: str) -> Role | None:
        with db_errors():
            role = await self._pool.fetchval(
                "SELECT role FROM organization_memberships WHERE org_id = $1 AND user_id = $2",
                org_id,
                user_id,
            )
        return role


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not a password")


def _user(row: asyncpg.Record) -> User:
    return msgspec.convert({k: row[k] for k in User.__struct_fields__}, User)
