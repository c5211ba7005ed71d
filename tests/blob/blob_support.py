"""Helpers shared by the blob tests (a plain module: conftest modules are not importable by name)."""

from __future__ import annotations

import secrets

from spyglass.store.config import BlobConfig
from tests.engines.s3_server import S3Server

SIGNING_SECRET = b"0123456789abcdef-test-secret"
PUBLIC_BASE_URL = "http://127.0.0.1:3000"


def s3_config(server: S3Server, *, prefix: str = "", **overrides: object) -> BlobConfig:
    fields: dict[str, object] = {
        "bucket": server.bucket,
        "prefix": prefix,
        "region": server.region,
        "endpoint": server.endpoint,
        "access_key_id": server.access_key,
        "secret_access_key": server.secret_key,
        "force_path_style": True,
    }
    fields.update(overrides)
    return BlobConfig(**fields)  # type: ignore[arg-type]


def fresh_prefix() -> str:
    # One session bucket, one prefix per test: isolation without a bucket per test.
    return f"t-{secrets.token_hex(4)}/"
