"""Shapes returned by the Postgres repositories. Field names are the column names."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

Role = Literal["OWNER", "ADMIN", "MEMBER", "VIEWER", "NONE"]
KeyScope = Literal["PROJECT", "ORGANIZATION"]
AccessLevel = Literal["project", "scores", "organization"]


class Organization(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    metadata: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime


class Project(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    org_id: str
    name: str
    retention_days: int | None = None
    metadata: dict[str, Any] | None = None
    has_traces: bool = False
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


class User(msgspec.Struct, frozen=True, kw_only=True):
    """A user account; the password hash never leaves the store."""

    id: str
    name: str | None = None
    email: str | None = None
    admin: bool = False
    created_at: datetime
    updated_at: datetime


class ApiKeyInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A key as it may be listed: the secret only in display form."""

    id: str
    scope: KeyScope
    project_id: str | None
    organization_id: str
    public_key: str
    display_secret_key: str
    note: str | None = None
    created_at: datetime
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class CreatedKey(msgspec.Struct, frozen=True, kw_only=True):
    """A new key, with its secret. This is the only time the secret is known: show it once."""

    id: str
    scope: KeyScope
    project_id: str | None
    organization_id: str
    public_key: str
    secret_key: str
    display_secret_key: str
    note: str | None = None
    created_at: datetime


class AuthScope(msgspec.Struct, frozen=True, kw_only=True):
    """Who a request is, once its key checked out.

    access_level: 'project' (public + secret key of a project), 'scores' (public key alone,
    enough to post scores from a browser), 'organization' (an organization-scoped key).
    """

    project_id: str | None
    organization_id: str
    public_key: str
    key_id: str
    access_level: AccessLevel
