"""Blob contract fixtures: every test in this folder that takes `blob_store` runs on both backends.

The engine fixtures (`s3_server`, ...) come from tests/conftest.py (tests.engines.fixtures).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from spyglass.store.blob import BlobStore, LocalBlobStore, LocalUrlSigner, S3BlobStore
from tests.blob.blob_support import PUBLIC_BASE_URL, SIGNING_SECRET, fresh_prefix, s3_config
from tests.engines.s3_server import S3Server


@pytest.fixture(params=["local", "s3"])
async def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    store: BlobStore
    if request.param == "local":
        store = LocalBlobStore(
            tmp_path / "blobs",
            name="media",
            prefix=fresh_prefix(),
            signer=LocalUrlSigner(SIGNING_SECRET, PUBLIC_BASE_URL),
        )
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        store = S3BlobStore(s3_config(server, prefix=fresh_prefix()), name="media")
    await store.ensure_bucket()
    yield store
    await store.close()
