"""The local store's write-ahead journal: puts recorded, checkpointed and replayed after a crash.

A crash is a real process that writes through the journal and exits without closing the store
(tests/blob/journal_child.py). A power cut would also lose writes the kernel had not flushed; the
tests stand for that by removing, emptying or corrupting the files afterwards, and check that the
replay brings back exactly what the journal made durable.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spyglass.store.blob import LocalBlobStore, LocalUrlSigner
from spyglass.store.blob import journal as journal_module
from spyglass.store.blob.journal import JOURNAL_DIR, Journal
from spyglass.store.errors import RetryableError
from tests.blob.blob_support import PUBLIC_BASE_URL, SIGNING_SECRET
from tests.blob.journal_child import pattern

REPO = Path(__file__).resolve().parents[2]
SEGMENT = 64 * 1024  # the smallest allowed: records of up to 16 KiB, a rotation every few puts


def store_at(root: Path, *, journal: bool = True, segment_bytes: int = SEGMENT) -> LocalBlobStore:
    return LocalBlobStore(
        root,
        name="events",
        signer=LocalUrlSigner(SIGNING_SECRET, PUBLIC_BASE_URL),
        journal=journal,
        journal_segment_bytes=segment_bytes,
    )


async def running(store: LocalBlobStore) -> LocalBlobStore:
    """Open `store` and start its journal (the first put does, in the background)."""
    assert store.journal is not None
    await store.ensure_bucket()
    await store.put("warm-up", b"")
    await settle(store)
    assert store.journal.running
    return store


async def running_journal(root: Path) -> tuple[LocalBlobStore, Journal]:
    store = await running(store_at(root))
    assert store.journal is not None
    return store, store.journal


async def settle(store: LocalBlobStore) -> None:
    assert store.journal is not None
    await asyncio.get_running_loop().run_in_executor(None, store.journal.wait_idle)


def crash_after(root: Path, ops: list[list[object]]) -> None:
    """Run `ops` through a journaled store in another process that then dies without closing it."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.blob.journal_child", str(root), str(SEGMENT), json.dumps(ops)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip() == "done", done.stderr


def fds_under(root: Path) -> list[str]:
    """This process's open descriptors on files below `root` (counting all of them would also see
    descriptors that earlier tests' garbage happens to close meanwhile)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed since the listing (the listing's own descriptor, for one)
            continue
        if target.startswith(f"{root}/") or target == str(root):
            found.append(target)
    return sorted(found)


def journal_entries(root: Path) -> list[str]:
    return sorted(os.listdir(root / JOURNAL_DIR))


async def test_puts_go_through_the_journal_and_close_checkpoints_it(tmp_path: Path) -> None:
    store = await running(store_at(tmp_path))
    await store.put("a/b", b"x" * 1000)
    assert (tmp_path / "a/b").read_bytes() == b"x" * 1000
    [instance, lock] = journal_entries(tmp_path)
    assert lock == f"{instance}.lock"
    segments = sorted(os.listdir(tmp_path / JOURNAL_DIR / instance))
    assert segments == ["seg-0001", "seg-0002"]  # the current one and a spare
    assert b"a/b" + b"x" * 1000 in (tmp_path / JOURNAL_DIR / instance / "seg-0001").read_bytes()
    assert [k async for k in store.list()] == ["a/b", "warm-up"]  # the journal is not a key
    await store.close()
    assert journal_entries(tmp_path) == []


async def test_replay_restores_what_a_crash_lost(tmp_path: Path) -> None:
    crash_after(tmp_path, [["put", "raw/a/1", "one"], ["put", "raw/a/2", "two"], ["put", "raw/b/3", "three"]])
    assert len(journal_entries(tmp_path)) == 2  # the dead process's journal is still there
    # As if the power had failed before the kernel wrote the files: gone, empty, half written.
    (tmp_path / "raw/a/1").unlink()
    (tmp_path / "raw/a/2").write_bytes(b"")
    (tmp_path / "raw/b/3").write_bytes(b"thr")
    store = store_at(tmp_path, journal=False)  # a replay does not depend on the setting
    await store.ensure_bucket()
    assert [await store.get(k) for k in ("raw/a/1", "raw/a/2", "raw/b/3")] == [b"one", b"two", b"three"]
    assert journal_entries(tmp_path) == []  # replayed once, then removed
    await store.close()


async def test_replay_does_not_bring_back_a_deleted_object(tmp_path: Path) -> None:
    crash_after(tmp_path, [["put", "k/1", "one"], ["put", "k/2", "two"], ["delete", "k/1"]])
    (tmp_path / "k/2").unlink()  # proves the replay ran
    store = store_at(tmp_path)
    await store.ensure_bucket()
    assert await store.get("k/2") == b"two"
    assert not await store.exists("k/1")
    await store.close()


async def test_a_torn_record_ends_the_replay(tmp_path: Path) -> None:
    crash_after(tmp_path, [["put", "k/1", "first"], ["put", "k/2", "second"]])
    [instance] = [e for e in journal_entries(tmp_path) if not e.endswith(".lock")]
    for seg in (tmp_path / JOURNAL_DIR / instance).iterdir():
        data = bytearray(seg.read_bytes())
        at = data.find(b"k/2second")
        if at >= 0:
            data[at + 3] ^= 0xFF  # the crash tore the last record's data
            seg.write_bytes(bytes(data))
            break
    else:
        pytest.fail("no segment holds the second record")
    (tmp_path / "k/1").unlink()
    (tmp_path / "k/2").unlink()
    store = store_at(tmp_path)
    await store.ensure_bucket()
    assert await store.get("k/1") == b"first"
    assert not await store.exists("k/2")  # a torn record was never acknowledged
    await store.close()


async def test_checkpointed_and_reused_segments_are_not_replayed(tmp_path: Path) -> None:
    # 10 KB puts take 12 KiB records: five fill a 64 KiB segment (after its 4 KiB header), so
    # twelve rotate twice and reuse the first segment under a new generation.
    ops: list[list[object]] = [["put_bytes", f"k/{n:02d}", 10_000] for n in range(12)]
    crash_after(tmp_path, [*ops, ["settle"]])
    (tmp_path / "k/04").write_bytes(b"written later")  # its stale record sits in the reused segment
    for n in range(5, 12):
        (tmp_path / f"k/{n:02d}").unlink()
    store = store_at(tmp_path)
    await store.ensure_bucket()
    assert (tmp_path / "k/04").read_bytes() == b"written later"
    # The second segment was checkpointed (so a real crash would have kept those files): not replayed.
    assert [n for n in range(5, 12) if (tmp_path / f"k/{n:02d}").exists()] == [10, 11]
    assert await store.get("k/11") == pattern(10_000)
    await store.close()


async def test_replay_follows_the_order_of_writes_not_of_segment_files(tmp_path: Path) -> None:
    # seg-0001 is filled, checkpointed and reused; seg-0002 fills next and its checkpoint never
    # finishes. So when the process dies, seg-0002 holds k/x's older version and seg-0001 the newer.
    fillers = [["put_bytes", f"f/{n:02d}", 10_000] for n in range(14)]
    crash_after(
        tmp_path,
        [
            ["put", "k/x", "v1"],
            *fillers[0:5],
            ["settle"],
            ["stall_checkpoints"],
            ["put", "k/x", "v2"],
            *fillers[5:10],
            ["put", "k/x", "v3"],
        ],
    )
    [instance] = [e for e in journal_entries(tmp_path) if not e.endswith(".lock")]
    segments = {p.name: p.read_bytes() for p in (tmp_path / JOURNAL_DIR / instance).iterdir()}
    assert b"k/xv3" in segments["seg-0001"] and b"k/xv2" in segments["seg-0002"]
    (tmp_path / "k/x").unlink()
    store = store_at(tmp_path)
    await store.ensure_bucket()
    assert await store.get("k/x") == b"v3"
    await store.close()


async def test_a_large_put_supersedes_its_journaled_version(tmp_path: Path) -> None:
    # 20 KB is over a 64 KiB segment's 16 KiB record limit: written the classic way.
    crash_after(tmp_path, [["put", "k/1", "small"], ["put_bytes", "k/1", 20_000]])
    store = store_at(tmp_path)
    await store.ensure_bucket()
    assert await store.get("k/1") == pattern(20_000)
    await store.close()


async def test_a_live_journal_is_left_alone(tmp_path: Path) -> None:
    live = await running(store_at(tmp_path))
    await live.put("k/1", b"one")
    before = journal_entries(tmp_path)
    other = store_at(tmp_path, journal=False)
    await other.ensure_bucket()
    assert journal_entries(tmp_path) == before
    await live.put("k/2", b"two")
    await live.close()
    await other.close()
    assert journal_entries(tmp_path) == []


async def test_a_failed_flush_fails_its_put_and_retires_the_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, journal = await running_journal(tmp_path)
    broken = journal._current
    assert broken is not None
    real = journal_module._fdatasync
    failing = [broken.fd]

    def fdatasync(fd: int) -> None:
        if fd in failing:
            failing.clear()
            raise OSError(5, "injected I/O error")
        real(fd)

    monkeypatch.setattr(journal_module, "_fdatasync", fdatasync)
    with pytest.raises(RetryableError, match="injected"):
        await store.put("k/1", b"one")
    assert broken.broken
    await store.put("k/2", b"two")  # lands in another segment
    assert journal._current is not broken
    await settle(store)
    assert not broken.path.exists()  # not reused: its flush failed once
    await store.close()


async def test_a_failed_checkpoint_stops_writes_and_keeps_the_journal_for_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, journal = await running_journal(tmp_path)
    await store.put("k/1", b"one")
    real = journal_module.sync_files

    def failing(root: Path, rels: list[str]) -> None:
        if "k/1" in rels:
            raise OSError(5, "injected I/O error")
        real(root, rels)

    monkeypatch.setattr(journal_module, "sync_files", failing)
    # 12 KiB records: the fifth does not fit, the first segment is sealed and its checkpoint fails.
    for n in range(2, 7):
        await store.put(f"k/{n}", pattern(10_000))
    await settle(store)
    assert not journal.running
    # No write is accepted that a replay of the kept journal could undo.
    with pytest.raises(RetryableError, match="restart"):
        await store.put("k/9", b"nine")
    with pytest.raises(RetryableError, match="restart"):
        await store.delete("k/2")
    assert not (tmp_path / "k/9").exists() and (tmp_path / "k/2").exists()
    await store.close()
    assert len(journal_entries(tmp_path)) == 2  # kept, for the next start to replay
    monkeypatch.setattr(journal_module, "sync_files", real)
    (tmp_path / "k/1").unlink()  # the file the checkpoint could not make durable
    reopened = store_at(tmp_path)
    await reopened.ensure_bucket()
    assert await reopened.get("k/1") == b"one"
    assert journal_entries(tmp_path) == []
    await reopened.close()


async def test_a_failed_start_leaves_nothing_open_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(self: Journal, *, zero_fill: bool) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Journal, "_new_segment", no_space)
    store = store_at(tmp_path)
    await store.ensure_bucket()
    await store.put("k/1", b"one")  # starts the journal, which fails: the classic path
    await settle(store)
    assert store.journal is not None and not store.journal.running
    assert journal_entries(tmp_path) == []
    await store.put("k/2", b"two")
    assert await store.get("k/2") == b"two"
    await store.close()
    assert fds_under(tmp_path) == []


async def test_an_orphan_segment_without_a_header_does_not_stop_the_start(tmp_path: Path) -> None:
    # A process that dies while zero-filling a new segment leaves one without a valid header.
    crash_after(tmp_path, [["put", "k/1", "one"]])
    [instance] = [e for e in journal_entries(tmp_path) if not e.endswith(".lock")]
    (tmp_path / JOURNAL_DIR / instance / "seg-9999").write_bytes(bytes(SEGMENT))
    (tmp_path / "k/1").unlink()
    store = store_at(tmp_path)
    await store.ensure_bucket()
    assert await store.get("k/1") == b"one"
    assert journal_entries(tmp_path) == []
    await store.close()


def test_checkpoints_make_unlinks_durable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a/kept").write_bytes(b"x")
    synced: list[str] = []
    monkeypatch.setattr(
        journal_module,
        "_fsync_path",
        lambda path, directory=False: synced.append(str(path.relative_to(tmp_path)) + ("/" if directory else "")),
    )
    # a/b/c was deleted and its emptied directory a/b with it: a, then the root, must be synced.
    journal_module.sync_files(tmp_path, ["a/b/c", "a/kept"])
    assert synced == ["a/b/c", "a/kept", "a/", "./"]


async def test_a_record_that_cannot_be_restored_does_not_stop_the_start(tmp_path: Path) -> None:
    crash_after(tmp_path, [["put", "k/1", "one"], ["put", "k/2", "two"]])
    (tmp_path / "k/1").unlink()
    (tmp_path / "k/1").mkdir()  # a directory now stands where the file was
    (tmp_path / "k/1/x").write_bytes(b"x")
    (tmp_path / "k/2").unlink()
    store = store_at(tmp_path)
    await store.ensure_bucket()
    assert await store.get("k/2") == b"two"
    assert await store.get("k/1/x") == b"x"
    assert journal_entries(tmp_path) == []
    await store.close()


async def test_concurrent_puts_and_deletes_across_many_rotations(tmp_path: Path) -> None:
    """Rotations, checkpoints and segment reuse while 8 threads write: nothing fails, nothing
    is lost or left open, and a replay of the journal at any point agrees with the files."""
    store, journal = await running_journal(tmp_path)
    sizes = [(n * 7919) % 20_000 + 1 for n in range(300)]  # some over the 16 KiB record limit
    expected = {f"c/{n:03d}": pattern(size) for n, size in enumerate(sizes)}
    await asyncio.gather(*(store.put(key, data) for key, data in expected.items()))
    doomed = [key for n, key in enumerate(expected) if n % 5 == 0]
    await asyncio.gather(*(store.delete(key) for key in doomed))
    for key in doomed:
        del expected[key]
    assert journal._files > 2  # rotations had to create segments beyond the first and its spare
    await settle(store)
    # Replaying this journal's records now (as after a crash) must change nothing.
    restored: list[str] = []
    touched = journal_module.replay_instance(tmp_path, journal.dir / journal._id, lambda r, d: restored.append(r))
    assert touched > 0 and restored == []
    assert {k: await store.get(k) for k in expected} == expected
    assert not any([await store.exists(k) for k in doomed])
    assert fds_under(tmp_path)  # the open segment and the lock, which close must release
    await store.close()
    assert journal_entries(tmp_path) == []
    assert fds_under(tmp_path) == []


async def test_deletes_alone_do_not_start_the_journal(tmp_path: Path) -> None:
    (tmp_path / "k").mkdir()
    (tmp_path / "k/1").write_bytes(b"one")  # written before, e.g. by an earlier run
    store = store_at(tmp_path)
    await store.ensure_bucket()
    await store.delete("k/1")
    await settle(store)
    assert store.journal is not None and not store.journal.running
    assert not (tmp_path / JOURNAL_DIR).exists()  # no 32 MiB segment for a process that only deletes
    await store.close()
