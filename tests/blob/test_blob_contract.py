"""The BlobStore contract, run against the local directory and SeaweedFS S3 (see conftest)."""

from __future__ import annotations

import asyncio
import time

import pytest

from spyglass.store.blob import BlobNotFound, BlobStore, InvalidBlobKey
from spyglass.store.errors import PermanentError, RetryableError

BAD_KEYS = [
    "",
    "/absolute",
    "a/../b",
    "..",
    "a/./b",
    "a//b",
    "trailing/",
    "nul\x00byte",
    "new\nline",
    "back\\slash",
    "x" * 1025,
    "s/" + "y" * 256,
]


async def collect(store: BlobStore, prefix: str = "", start_after: str | None = None) -> list[str]:
    return [key async for key in store.list(prefix, start_after)]


async def test_put_get_exists_delete(blob_store: BlobStore) -> None:
    assert not await blob_store.exists("obj/one.json")
    await blob_store.put("obj/one.json", b'{"a": 1}', "application/json")
    assert await blob_store.exists("obj/one.json")
    assert await blob_store.get("obj/one.json") == b'{"a": 1}'
    await blob_store.delete("obj/one.json")
    assert not await blob_store.exists("obj/one.json")
    # Deleting what is not there is fine (retries of a delete must not fail).
    await blob_store.delete("obj/one.json")


async def test_overwrite_replaces_content(blob_store: BlobStore) -> None:
    await blob_store.put("k", b"first version, longer")
    await blob_store.put("k", b"second")
    assert await blob_store.get("k") == b"second"


async def test_binary_and_empty_data_round_trip(blob_store: BlobStore) -> None:
    every_byte = bytes(range(256)) * 64
    await blob_store.put("bin/all-bytes", every_byte)
    await blob_store.put("bin/empty", b"")
    assert await blob_store.get("bin/all-bytes") == every_byte
    assert await blob_store.get("bin/empty") == b""


async def test_unicode_keys(blob_store: BlobStore) -> None:
    key = "médias/ünïcødé ключ 日本/file name+plus&amp=eq?.txt"
    await blob_store.put(key, b"x")
    assert await blob_store.get(key) == b"x"
    assert await collect(blob_store, "médias/") == [key]


async def test_missing_key_raises_blob_not_found(blob_store: BlobStore) -> None:
    with pytest.raises(BlobNotFound) as info:
        await blob_store.get("does/not/exist")
    assert isinstance(info.value, PermanentError)
    assert info.value.key == "does/not/exist"


@pytest.mark.parametrize("key", BAD_KEYS, ids=repr)
async def test_invalid_keys_are_rejected(blob_store: BlobStore, key: str) -> None:
    with pytest.raises(InvalidBlobKey):
        await blob_store.put(key, b"x")
    with pytest.raises(InvalidBlobKey):
        await blob_store.get(key)
    with pytest.raises(InvalidBlobKey):
        await blob_store.exists(key)
    with pytest.raises(InvalidBlobKey):
        await blob_store.delete(key)
    with pytest.raises(InvalidBlobKey):
        await blob_store.presign_get(key, 60)


async def test_list_is_in_byte_order_with_prefix_and_start_after(blob_store: BlobStore) -> None:
    # SeaweedFS lists in directory order and treats a start_after naming a "directory" as the
    # whole subtree; these keys and cursors avoid both cases, where it differs from S3 (see
    # test_blob_local.py for the strict byte order the local store keeps there).
    keys = sorted(["x/y", "x_z", "x0", "xa.w/q", "x/a/deep/er", "é/1", "z/ä/b", "A", "x/y2", "x/yz/z"])
    await asyncio.gather(*(blob_store.put(k, k.encode()) for k in keys))
    assert await collect(blob_store) == keys
    assert await collect(blob_store, "x/") == ["x/a/deep/er", "x/y", "x/y2", "x/yz/z"]
    assert await collect(blob_store, "x") == [k for k in keys if k.startswith("x")]
    assert await collect(blob_store, "x/y") == ["x/y", "x/y2", "x/yz/z"]
    assert await collect(blob_store, start_after="x/a/deep/er") == keys[keys.index("x/y") :]
    assert await collect(blob_store, start_after="x/b") == keys[keys.index("x/y") :]
    assert await collect(blob_store, start_after="x/y2") == keys[keys.index("x/yz/z") :]
    assert await collect(blob_store, start_after="x0") == keys[keys.index("x0") + 1 :]
    assert await collect(blob_store, "x/", start_after="x/y") == ["x/y2", "x/yz/z"]
    assert await collect(blob_store, "nothing-here/") == []


async def test_list_paginates_past_1000_keys(blob_store: BlobStore) -> None:
    # 1001 keys: one more than S3's largest page. SeaweedFS takes ~250 puts/s on 2 cores, and more
    # than 8 at once only adds contention.
    keys = [f"many/{i:05d}" for i in range(1001)]
    gate = asyncio.Semaphore(8)

    async def put(key: str) -> None:
        async with gate:
            await blob_store.put(key, b"")

    started = time.monotonic()
    await asyncio.gather(*(put(k) for k in keys))
    put_seconds = time.monotonic() - started
    assert await collect(blob_store, "many/") == keys
    assert await collect(blob_store, "many/", start_after="many/00998") == keys[999:]
    # Delete in bulk (S3: DeleteObjects in chunks of 1000) and see the listing empty.
    await blob_store.delete_many(keys)
    assert await collect(blob_store, "many/") == []
    assert put_seconds < 20


async def test_delete_many_ignores_missing_and_validates_all_first(blob_store: BlobStore) -> None:
    await blob_store.put("dm/a", b"1")
    await blob_store.put("dm/b", b"2")
    with pytest.raises(InvalidBlobKey):
        await blob_store.delete_many(["dm/a", "../escape"])
    assert await blob_store.exists("dm/a")
    await blob_store.delete_many(["dm/a", "dm/b", "dm/never-existed"])
    assert await collect(blob_store, "dm/") == []


async def test_presign_rejects_bad_expiry(blob_store: BlobStore) -> None:
    with pytest.raises(ValueError):
        await blob_store.presign_get("k", 0)
    with pytest.raises(ValueError):
        await blob_store.presign_put("k", 8 * 24 * 3600, "text/plain")


async def test_check_and_ensure_bucket_are_idempotent(blob_store: BlobStore) -> None:
    await blob_store.ensure_bucket()
    await blob_store.check()


async def test_closed_store_refuses_work(blob_store: BlobStore) -> None:
    await blob_store.close()
    # Retryable, as for ClickHouse and PostgreSQL: a store closes at shutdown, and the work it
    # refuses comes back to another process (or this one, restarted).
    with pytest.raises(RetryableError):
        await blob_store.put("k", b"x")
