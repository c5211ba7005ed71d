"""Configuration value objects of the HTTP service."""

from __future__ import annotations

from typing import Annotated

import msgspec


class ApiConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 3000
    # Public base URL used in links (trace URLs, presigned local-blob URLs).
    public_url: str | None = None
    shutdown_timeout_seconds: float = 10.0
    api_key_cache_seconds: int = 30
    # Result rows of past days kept for repeated metrics queries with daily buckets (0: off).
    metrics_cache_rows: int = 200_000
