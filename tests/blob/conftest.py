"""Blob contract fixtures: every test in this folder that takes `blob_store` runs on both backends.

The engine fixtures (`s3_server`, ...) come from tests/conftest.py (tests.engines.fixtures).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from spyglass.store.blob import BlobStore, LocalBlobStore, LocalUrlSigner, S3BlobStore
from tests.blob.blob_support import PUBLIC_BASE_URL, SIGNING_SECRET, fresh_prefix, s3_config
from tests.engines.s3_server import S3Server


@pytest.fixture(params=["local", "local-journal", "s3"])
async def blob_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    store: BlobStore
    if request.param.startswith("local"):
        store = LocalBlobStore(
            tmp_path / "blobs",
            name="media",
            prefix=fresh_prefix(),
            signer=LocalUrlSigner(SIGNING_SECRET, PUBLIC_BASE_URL),
            journal=request.param == "local-journal",
        )
        if store.journal is not None:
            # Started, so that the contract's puts and deletes go through it.
            await store.ensure_bucket()
            await store.put("journal-warm-up", b"")
            await asyncio.get_running_loop().run_in_executor(None, store.journal.wait_idle)
            await store.delete("journal-warm-up")
    else:
        server: S3Server = request.getfixturevalue("s3_server")
        store = S3BlobStore(s3_config(server, prefix=fresh_prefix()), name="media")
    await store.ensure_bucket()
    yield store
    await store.close()
