"""S3-only behaviour against a real SeaweedFS: presigned URLs over plain HTTP, auth and network errors."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from spyglass.store.blob import BlobNotFound, S3BlobStore, open_blob_store
from spyglass.store.config import BlobConfig
from spyglass.store.errors import PermanentError, RetryableError
from tests.blob.blob_support import fresh_prefix, s3_config
from tests.engines import S3Server, free_port


@pytest.fixture
async def s3_store(s3_server: S3Server) -> AsyncIterator[S3BlobStore]:
    store = S3BlobStore(s3_config(s3_server, prefix=fresh_prefix()), name="media")
    yield store
    await store.close()


def http(
    url: str, *, method: str = "GET", data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


async def test_presigned_get_works_with_plain_http(s3_store: S3BlobStore) -> None:
    await s3_store.put("media/pic.png", b"\x89PNG fake", "image/png")
    url = await s3_store.presign_get("media/pic.png", 60)
    assert url.startswith(f"{s3_store.url}/")  # path-style: endpoint/bucket/key
    status, body = await asyncio.to_thread(http, url)
    assert (status, body) == (200, b"\x89PNG fake")
    # The signature covers the key: another key with the same query string is refused.
    forged = url.replace("media/pic.png", "media/other.png")
    assert (await asyncio.to_thread(http, forged))[0] == 403


async def test_presigned_put_with_type_length_and_checksum(s3_store: S3BlobStore) -> None:
    data = b"uploaded by a browser" * 10
    checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
    url = await s3_store.presign_put("up/file.txt", 60, "text/plain", len(data), checksum)
    headers = {"Content-Type": "text/plain", "x-amz-checksum-sha256": checksum}
    # Each signed constraint is enforced: wrong type, wrong length, wrong content.
    assert (
        await asyncio.to_thread(http, url, method="PUT", data=data, headers={**headers, "Content-Type": "image/png"})
    )[0] == 403
    assert (await asyncio.to_thread(http, url, method="PUT", data=data + b"!", headers=headers))[0] == 403
    assert (await asyncio.to_thread(http, url, method="PUT", data=data[::-1], headers=headers))[0] == 400
    assert not await s3_store.exists("up/file.txt")
    status, _ = await asyncio.to_thread(http, url, method="PUT", data=data, headers=headers)
    assert status == 200
    assert await s3_store.get("up/file.txt") == data


async def test_presigned_put_minimal(s3_store: S3BlobStore) -> None:
    url = await s3_store.presign_put("up/plain.bin", 60, "application/octet-stream")
    status, _ = await asyncio.to_thread(
        http, url, method="PUT", data=b"abc", headers={"Content-Type": "application/octet-stream"}
    )
    assert status == 200
    assert await s3_store.get("up/plain.bin") == b"abc"


async def test_presigned_url_carries_the_expiry(s3_store: S3BlobStore) -> None:
    # SeaweedFS enforces it (checked by hand); waiting for it here would only slow the suite.
    assert "X-Amz-Expires=123&" in await s3_store.presign_get("short", 123)


async def test_virtual_host_addressing_in_presigned_urls(s3_server: S3Server) -> None:
    # Presigning is local computation, so an unresolvable host is fine; nothing is sent.
    cfg = s3_config(s3_server, endpoint="http://s3.example.invalid:9000", force_path_style=False)
    store = S3BlobStore(cfg, name="media")
    try:
        url = urlsplit(await store.presign_get("a/b.txt", 60))
        assert (url.hostname, url.port, url.path) == (
            f"{s3_server.bucket}.s3.example.invalid",
            9000,
            "/a/b.txt",
        )
    finally:
        await store.close()
    path_style = S3BlobStore(s3_config(s3_server, endpoint="http://s3.example.invalid:9000"), name="media")
    try:
        url = urlsplit(await path_style.presign_get("a/b.txt", 60))
        assert (url.hostname, url.path) == ("s3.example.invalid", f"/{s3_server.bucket}/a/b.txt")
    finally:
        await path_style.close()


async def test_store_prefix_is_applied_and_hidden(s3_server: S3Server) -> None:
    prefix = fresh_prefix()
    store = S3BlobStore(s3_config(s3_server, prefix=prefix), name="media")
    try:
        await store.put("k/1", b"v")
        raw = s3_server.client().get_object(Bucket=s3_server.bucket, Key=f"{prefix}k/1")["Body"].read()
        assert raw == b"v"
        assert [k async for k in store.list()] == ["k/1"]
    finally:
        await store.close()


async def test_small_pages_follow_continuation_tokens(s3_server: S3Server) -> None:
    store = S3BlobStore(s3_config(s3_server, prefix=fresh_prefix()), name="media", list_page_size=7)
    try:
        keys = [f"p/{i:03d}" for i in range(30)]
        await asyncio.gather(*(store.put(k, b"") for k in keys))
        assert [k async for k in store.list("p/")] == keys
        assert [k async for k in store.list("p/", start_after="p/012")] == keys[13:]
    finally:
        await store.close()


async def test_wrong_secret_is_a_permanent_error(s3_server: S3Server) -> None:
    store = S3BlobStore(s3_config(s3_server, secret_access_key="not-the-secret"), name="media")
    try:
        with pytest.raises(PermanentError) as info:
            await store.put("k", b"x")
        assert not isinstance(info.value, RetryableError)
        assert "SignatureDoesNotMatch" in str(info.value)
        with pytest.raises(PermanentError) as info:
            await store.get("k")
        assert not isinstance(info.value, BlobNotFound)
    finally:
        await store.close()


async def test_unreachable_endpoint_is_retryable_and_fast(s3_server: S3Server) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    store = S3BlobStore(
        s3_config(s3_server, endpoint=closed),
        name="media",
        connect_timeout=1.0,
        read_timeout=1.0,
        max_attempts=1,
    )
    try:
        started = time.monotonic()
        with pytest.raises(RetryableError):
            await store.put("k", b"x")
        with pytest.raises(RetryableError):
            await store.check()
        assert time.monotonic() - started < 3.0
    finally:
        await store.close()


async def test_ensure_bucket_creates_only_when_asked(s3_server: S3Server) -> None:
    from tests.engines import new_bucket_name

    store = S3BlobStore(s3_config(s3_server, bucket=new_bucket_name()), name="media")
    try:
        with pytest.raises(PermanentError, match="does not exist"):
            await store.check()
        with pytest.raises(PermanentError) as info:
            await store.put("k", b"x")
        assert not isinstance(info.value, RetryableError)
        await store.ensure_bucket()
        await store.ensure_bucket()  # idempotent
        await store.check()
        await store.put("k", b"x")
        assert await store.get("k") == b"x"
    finally:
        await store.close()


async def test_factory_picks_s3_when_a_bucket_is_set(s3_server: S3Server) -> None:
    store = open_blob_store(s3_config(s3_server), name="media", public_base_url="http://x", signing_secret=b"s" * 32)
    assert isinstance(store, S3BlobStore)
    await store.close()
    assert BlobConfig(bucket="b").is_s3
