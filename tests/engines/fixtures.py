"""Session-scoped pytest fixtures that start real servers once per test run.

Import them into a conftest.py (`from tests.engines.fixtures import redis_url, s3_server, ...`).
A server starts only when a test asks for it, and stops at the end of the session, also when
tests fail.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .redis_server import RedisServer
from .s3_server import S3Server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A Redis server for the whole session (use distinct key prefixes per test)."""
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """`redis://127.0.0.1:<port>/0` of the session's Redis server."""
    return redis_server.url


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A SeaweedFS S3 server: `.endpoint`, `.access_key`, `.secret_key`, `.region`, a created `.bucket`."""
    with S3Server() as server:
        yield server


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A new, empty bucket on the session's S3 server, just for this test."""
    return s3_server.create_bucket()
