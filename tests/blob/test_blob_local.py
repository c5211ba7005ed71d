"""Local-directory store specifics: durability mechanics, on-disk layout, signed URLs."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from spyglass.store.blob import InvalidBlobKey, LocalBlobStore, LocalUrlSigner, open_blob_store
from spyglass.store.blob.local import TMP_DIR
from spyglass.store.config import BlobConfig
from spyglass.store.errors import ConfigError, PermanentError
from tests.blob.blob_support import PUBLIC_BASE_URL, SIGNING_SECRET


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[LocalBlobStore]:
    store = LocalBlobStore(
        tmp_path / "root", name="media", prefix="p/", signer=LocalUrlSigner(SIGNING_SECRET, PUBLIC_BASE_URL)
    )
    await store.ensure_bucket()
    yield store
    await store.close()


def split_signed_url(url: str) -> tuple[str, str, dict[str, str]]:
    """(store name, key, query) as the HTTP handler will see them."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_BASE_URL
    prefix = "/api/blob/"
    assert parts.path.startswith(prefix)
    store_name, _, key = parts.path[len(prefix) :].partition("/")
    return unquote(store_name), unquote(key), dict(parse_qsl(parts.query))


async def test_files_follow_the_key_layout_and_no_temp_files_remain(local: LocalBlobStore) -> None:
    await local.put("a/b/c.json", b"{}")
    assert (local.root / "p/a/b/c.json").read_bytes() == b"{}"
    assert local.file_path("a/b/c.json") == local.root / "p/a/b/c.json"
    assert list((local.root / TMP_DIR).iterdir()) == []


async def test_delete_removes_emptied_directories(local: LocalBlobStore) -> None:
    await local.put("a/b/c", b"1")
    await local.put("a/d", b"2")
    await local.delete("a/b/c")
    assert not (local.root / "p/a/b").exists()
    assert (local.root / "p/a/d").exists()
    await local.delete("a/d")
    assert not (local.root / "p").exists()
    assert local.root.is_dir()


async def test_object_and_directory_with_one_name_collide(local: LocalBlobStore) -> None:
    await local.put("a/b", b"1")
    with pytest.raises(InvalidBlobKey, match="collides"):
        await local.put("a/b/c", b"2")
    with pytest.raises(InvalidBlobKey, match="collides"):
        await local.put("a", b"3")
    assert not await local.exists("a")
    assert await local.get("a/b") == b"1"


async def test_temp_dir_name_is_reserved(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path, name="m", signer=LocalUrlSigner(SIGNING_SECRET, PUBLIC_BASE_URL))
    with pytest.raises(InvalidBlobKey, match="reserved"):
        await store.put(f"{TMP_DIR}/x", b"")
    await store.put("visible", b"")
    assert [k async for k in store.list()] == ["visible"]
    await store.close()


async def test_stale_temp_files_are_cleared(local: LocalBlobStore) -> None:
    stale = local.root / TMP_DIR / "dead.tmp"
    fresh = local.root / TMP_DIR / "busy.tmp"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    await local.ensure_bucket()
    assert not stale.exists()
    assert fresh.exists()  # may belong to a put still running in another process


async def test_list_order_when_a_directory_name_prefixes_a_sibling(local: LocalBlobStore) -> None:
    # Byte order puts "x-z" ('-' 0x2d) and "x.w/q" ('.' 0x2e) before "x/..." ('/' 0x2f): the
    # directory walk must sort "x" as "x/" to get this right (SeaweedFS does not).
    keys = ["x/y", "x-z", "x0", "x.w/q", "x/a/deep/er", "x!"]
    for key in keys:
        await local.put(key, b"")
    listed = [k async for k in local.list()]
    assert listed == sorted(keys) == ["x!", "x-z", "x.w/q", "x/a/deep/er", "x/y", "x0"]
    # start_after may name a "directory": everything below it is greater, as in S3.
    assert [k async for k in local.list(start_after="x/a")] == ["x/a/deep/er", "x/y", "x0"]
    assert [k async for k in local.list(start_after="x.w")] == ["x.w/q", "x/a/deep/er", "x/y", "x0"]
    assert [k async for k in local.list("x/a/d")] == ["x/a/deep/er"]


async def test_presigned_get_verifies_and_rejects_tampering(local: LocalBlobStore) -> None:
    url = await local.presign_get("média/a b+c.png", 300)
    store_name, key, query = split_signed_url(url)
    assert (store_name, key, query["method"]) == ("media", "média/a b+c.png", "GET")
    expires, sig = int(query["expires"]), query["sig"]
    assert local.verify(store_name, key, "GET", expires, sig)
    assert local.signer.verify_request(store_name, key, "GET", query)
    # Anything changed breaks the signature.
    assert not local.verify(store_name, "média/other.png", "GET", expires, sig)
    assert not local.verify("other-store", key, "GET", expires, sig)
    assert not local.verify(store_name, key, "PUT", expires, sig)
    assert not local.verify(store_name, key, "GET", expires + 3600, sig)
    assert not local.verify(store_name, key, "GET", expires, sig[:-1] + ("0" if sig[-1] != "0" else "1"))
    assert not local.verify(store_name, key, "GET", expires, "not hex ü")
    assert not local.verify(store_name, key, "GET", "soon", sig)
    assert not local.signer.verify_request(store_name, key, "PUT", query)
    # Another secret does not verify it either.
    other = LocalUrlSigner(b"another-secret-of-16+bytes", PUBLIC_BASE_URL)
    assert not other.verify(store_name, key, "GET", expires, sig)


async def test_presigned_url_expiry(local: LocalBlobStore) -> None:
    _, key, query = split_signed_url(await local.presign_get("k", 60))
    expires = int(query["expires"])
    assert time.time() + 55 < expires <= time.time() + 61
    assert local.verify("media", key, "GET", expires, query["sig"], now=expires)
    assert not local.verify("media", key, "GET", expires, query["sig"], now=expires + 1)


async def test_presigned_put_binds_type_length_and_checksum(local: LocalBlobStore) -> None:
    url = await local.presign_put("up/x.png", 60, "image/png", 1234, "q83vEjRWeJA=")
    store_name, key, query = split_signed_url(url)
    assert query["content_type"] == "image/png"
    assert query["content_length"] == "1234"
    assert query["checksum_sha256"] == "q83vEjRWeJA="
    assert local.signer.verify_request(store_name, key, "PUT", query)
    assert not local.signer.verify_request(store_name, key, "GET", query)
    for field, forged in (
        ("content_type", "text/html"),
        ("content_length", "99999"),
        ("checksum_sha256", "AAAA"),
    ):
        assert not local.signer.verify_request(store_name, key, "PUT", {**query, field: forged})
    dropped = {k: v for k, v in query.items() if k != "content_length"}
    assert not local.signer.verify_request(store_name, key, "PUT", dropped)
    # The bare verify() of the brief sees the content fields missing and refuses.
    assert not local.verify(store_name, key, "PUT", query["expires"], query["sig"])


async def test_signer_and_store_names_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        LocalUrlSigner(b"short", PUBLIC_BASE_URL)
    with pytest.raises(ValueError):
        LocalBlobStore(tmp_path, name="has/slash", signer=LocalUrlSigner(SIGNING_SECRET, PUBLIC_BASE_URL))


async def test_check_fails_for_a_missing_directory(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "nope", name="m", signer=LocalUrlSigner(SIGNING_SECRET, PUBLIC_BASE_URL))
    with pytest.raises(PermanentError, match="does not exist"):
        await store.check()
    await store.ensure_bucket()
    await store.check()
    await store.close()


async def test_factory_picks_local_without_bucket(tmp_path: Path) -> None:
    store = open_blob_store(
        BlobConfig(local_dir=str(tmp_path)),
        name="media",
        public_base_url=PUBLIC_BASE_URL,
        signing_secret=SIGNING_SECRET,
    )
    assert isinstance(store, LocalBlobStore)
    assert (await store.presign_get("k", 10)).startswith(f"{PUBLIC_BASE_URL}/api/blob/media/k?expires=")
    await store.close()
    with pytest.raises(ConfigError):
        open_blob_store(BlobConfig(), name="media", public_base_url=PUBLIC_BASE_URL, signing_secret=SIGNING_SECRET)


async def test_concurrent_puts_share_directory_fsyncs(local: LocalBlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Group commit: a put returns only after an fsync of its directory that started after its
    rename, yet concurrent puts do not each need one of their own."""
    import asyncio

    from spyglass.store.blob import local as local_module

    real = local_module._fsync_dir
    durable: set[str] = set()
    syncs: list[Path] = []
    fail_first = [True]

    def slow_fsync(path: Path) -> None:
        seen = set(os.listdir(path))  # the renames this fsync covers
        time.sleep(0.02)
        if fail_first[0] and path.name == "h":
            fail_first[0] = False
            raise OSError(5, "injected I/O error")
        real(path)
        syncs.append(path)
        durable.update(seen)

    monkeypatch.setattr(local_module, "_fsync_dir", slow_fsync)

    async def put(n: int) -> bool:
        try:
            await local.put(f"d/h/{n:03d}", b"x")
        except Exception:
            return False
        assert f"{n:03d}" in durable  # answered => its rename was covered by a finished fsync
        return True

    results = await asyncio.gather(*(put(n) for n in range(16)))
    assert results.count(False) == 1  # the put that led the failed fsync; the others led again
    hour_syncs = [p for p in syncs if p.name == "h"]
    assert 1 <= len(hour_syncs) < 15
