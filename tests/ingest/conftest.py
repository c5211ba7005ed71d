"""Fixtures shared by the ingest tests that assemble a worker from its parts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from spyglass.store.blob import BlobStore, open_blob_store
from spyglass.store.config import BlobConfig
from spyglass.store.postgres.dead_letters import DeadLetters
from tests.harness import Harness


@pytest.fixture
async def events_blob(tmp_path: Path) -> AsyncIterator[BlobStore]:
    """A local-directory events store (the raw log) of the test's own."""
    store = open_blob_store(
        BlobConfig(local_dir=str(tmp_path / "raw")),
        name="events",
        public_base_url="http://x",
        signing_secret=b"0123456789abcdef0123",
    )
    await store.ensure_bucket()
    yield store
    await store.close()


@pytest.fixture
def dead_letters(spyglass: Harness) -> DeadLetters:
    """The real dead-letter store, in the embedded harness's PostgreSQL (list by project)."""
    return DeadLetters(spyglass.stores.pg)
