"""A write-ahead journal in front of the local blob store, so that a put is durable after one
fdatasync of an overwrite, instead of the two file-system journal commits a new file needs.

Why: making a *new* file durable on ext4 (and other journaling file systems) commits the file
system's journal for the file's blocks and size, and again for the rename in its directory. An
overwrite of blocks that already exist, leaving the file's size alone, needs only the data flush.
On the 2-core VM a bare loop took p99 5.5 ms against 11.9 ms (bench/RESULTS.md).

How:
- Each store instance owns `{root}/.spyglass-journal/{id}/`, held by an flock on `{id}.lock` for
  as long as it runs. It holds segment files of `segment_bytes`, zero-filled once so that their
  blocks exist, and reused.
- A put places the object's file as usual but without any fsync (write, rename), then appends a
  record (path, data, CRC) to the current segment and waits for a group-committed fdatasync of
  the segment. Only then does the put return.
- Every record carries a sequence number (the replay applies records in that order) and the
  random nonce its segment got when it was last (re)started: bytes left over from a segment's
  earlier use, client payloads included, can never pass for a record of the current use.
- A full segment is sealed and checkpointed in the background: every file it recorded (or
  deleted) is fdatasynced and its directories up to the root are fsynced. Its records are then no
  longer needed and the segment is reused under a new nonce.
- Opening a store replays the journal of every instance whose lock is free (a crashed process),
  before anything reads the store: each recorded object whose file is missing or differs is
  rewritten, recorded deletes are redone, everything is synced, and the orphan journal removed.
- A delete is recorded, unflushed: it becomes durable with the next flush (losing it in a crash
  brings the object back, as a lost unlink would). A put larger than `segment_bytes // 4` is
  written the classic way and then recorded without its data, so a replay never rolls it back.
- The journal starts in the background at the first put; until its first segment is ready,
  puts take the classic path. Every later put and delete goes through it. If a checkpoint fails
  (an I/O error), puts and deletes fail from then on (RetryableError) and the journal is left
  for the next start to replay, the way a database stops after a failed fsync.

A record that a crash tore ends its segment's replay. Records are written in offset order under
one lock, and a put returns only after a flush that covered its record, so every record before
a torn one is whole and every put that returned lies before it.

Keys are assumed to be written by one process: a store directory shared by several processes
(a local events directory for scale-out roles) replays a crashed process's journal at the next
start of any of them, without regard to what the others wrote since. Raw-log keys are unique.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import mmap
import os
import secrets
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from .errors import InvalidBlobKey
from .fsync import fdatasync as _fdatasync
from .fsync import fsync_path as _fsync_path
from .group_commit import GroupCommit
from .keys import key_problem
from .layout import JOURNAL_DIR, RESERVED

log = logging.getLogger("spyglass.store.blob.journal")

DEFAULT_SEGMENT_BYTES = 32 * 1024 * 1024
_BLOCK = 4096
_ZEROS = bytes(1024 * 1024)
_SEGMENT_HEADER = struct.Struct("<8sQI")  # magic, nonce, crc32 of the first 16 bytes
_SEGMENT_MAGIC = b"SGJSEG02"
# magic, kind, 0, path length, data length, segment nonce, sequence number, crc32 of path + data
_HEAD = struct.Struct("<4sBBHIQQI")
_RECORD_SIZE = _HEAD.size + 4  # + crc32 of the head
_RECORD_MAGIC = b"SGJR"
PUT, DELETE, PUT_DURABLE = 1, 2, 3
_RETRY_START_SECONDS = 60.0
_LOCK_SUFFIX = ".lock"
_LOCKING_SUFFIX = ".locking"  # a lock file before it is held (renamed once it is)


def _align(n: int) -> int:
    return -(-n // _BLOCK) * _BLOCK


class JournalFailed(OSError):
    """The journal cannot make writes durable any more (a flush or checkpoint failed)."""


class _Segment:
    """One segment file; `writers`, `dropped` and `placed` are guarded by the journal's lock."""

    def __init__(self, path: Path, fd: int, size: int) -> None:
        self.path = path
        self.fd = fd
        self.size = size
        self.nonce = 0
        self.offset = _BLOCK
        self.placed: list[str] = []  # root-relative paths its records wrote or deleted
        self.broken = False
        self.writers = 0  # puts between their append and the end of their flush
        self.dropped = False
        self.commit = GroupCommit(self.flush)

    def flush(self) -> None:
        # After a failed fdatasync Linux may mark the pages clean, so a retry can "succeed"
        # without the data on disk: once one fails, every later sync of this segment fails too.
        if self.broken:
            raise JournalFailed(5, f"an earlier flush of {self.path.name} failed")
        try:
            _fdatasync(self.fd)
        except OSError:
            self.broken = True
            raise

    def restart(self) -> None:
        """Start a new use: a fresh nonce makes every record of the previous use invalid."""
        nonce = int.from_bytes(secrets.token_bytes(8), "little")
        head = _SEGMENT_MAGIC + nonce.to_bytes(8, "little")
        block = _SEGMENT_HEADER.pack(_SEGMENT_MAGIC, nonce, zlib.crc32(head))
        os.pwrite(self.fd, block.ljust(_BLOCK, b"\0"), 0)
        _fdatasync(self.fd)
        self.nonce = nonce
        self.offset = _BLOCK
        self.placed = []
        self.commit = GroupCommit(self.flush)


class Journal:
    """The journal of one LocalBlobStore (see the module docstring)."""

    def __init__(self, root: Path, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES, spares: int = 1) -> None:
        if segment_bytes < 16 * _BLOCK or segment_bytes % _BLOCK:
            raise ValueError(f"segment_bytes must be a multiple of {_BLOCK} and at least {16 * _BLOCK}")
        self.root = root
        self.dir = root / JOURNAL_DIR
        self.segment_bytes = segment_bytes
        self.max_record = segment_bytes // 4
        self._spare_cap = spares
        self._id = ""
        self._lock = threading.Lock()
        self._current: _Segment | None = None
        self._spares: deque[_Segment] = deque()
        self._open: set[_Segment] = set()  # every segment whose fd is open
        self._pending: list[Future[None]] = []
        self._seq = 0
        # Taken alone, never with `_lock` held inside it: a rotation creates segments under `_lock`.
        self._counters = threading.Lock()
        self._files = 0
        self._lock_fd: int | None = None
        # idle -> starting -> running; back to idle after a failed start, to failed after a
        # failed checkpoint.
        self._state = "idle"
        self._start_failed_at = 0.0
        self._closed = False
        # One background thread: preparing segments and checkpointing them, in order.
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blob-journal")

    # -- writing -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._state == "running"

    def check(self) -> None:
        """Raise JournalFailed when writes can no longer be made durable (call before writing)."""
        if self._state == "failed":
            raise JournalFailed(5, "the blob journal could not checkpoint; restart to replay it")

    def put(self, rel: str, data: bytes) -> bool:
        """Record `data` for the (already placed) file `rel` and wait until the record is durable.
        False when the journal is not running (an idle one starts now): the caller makes the
        file durable itself."""
        return self._append_and_sync(PUT, rel, data)

    def put_durable(self, rel: str) -> bool:
        """Record that `rel` was written durably (too large for a record), so that a replay does
        not bring back an earlier journaled version. Starts the journal when it is idle."""
        return self._append_and_sync(PUT_DURABLE, rel, b"")

    def delete(self, rel: str) -> None:
        """Record a delete, unflushed: the next flush or checkpoint makes it durable."""
        self._append(DELETE, rel, b"")

    def _append_and_sync(self, kind: int, rel: str, data: bytes) -> bool:
        seg = self._append(kind, rel, data)
        if seg is None:
            return False
        try:
            seg.commit.sync()
        finally:
            self._release(seg)
        return True

    def _append(self, kind: int, rel: str, data: bytes) -> _Segment | None:
        path = rel.encode()
        # Outside the lock (and the GIL, for large data): ~0.1 ms for a 300 KB body.
        body_crc = zlib.crc32(data, zlib.crc32(path))
        size = _align(_RECORD_SIZE + len(path) + len(data))
        with self._lock:
            self.check()
            if self._state != "running" or self._closed:
                if kind != DELETE:  # nothing journaled yet, so a delete needs no record
                    self._maybe_start()
                return None
            seg = self._current
            if seg is None or seg.broken or seg.offset + size > seg.size:
                seg = self._rotate()
            self._seq += 1
            head = _HEAD.pack(_RECORD_MAGIC, kind, 0, len(path), len(data), seg.nonce, self._seq, body_crc)
            record = head + zlib.crc32(head).to_bytes(4, "little")
            pad = size - _RECORD_SIZE - len(path) - len(data)
            try:
                _pwritev(seg.fd, [record, path, data, _ZEROS[:pad]], seg.offset)
            except OSError:
                # What follows a torn record is never replayed: no record may go after it.
                seg.broken = True
                self._current = None
                self._seal(seg)
                raise
            seg.offset += size
            if kind != PUT_DURABLE:  # a durable put's file needs no checkpoint
                seg.placed.append(rel)
            if kind != DELETE:
                seg.writers += 1  # until `_release`: its fd must stay open for the flush
            return seg

    def _release(self, seg: _Segment) -> None:
        with self._lock:
            seg.writers -= 1
            if seg.dropped and seg.writers == 0:
                self._close_fd(seg)

    def _rotate(self) -> _Segment:
        """Seal the current segment and make a spare current (lock held)."""
        if self._current is not None:
            self._seal(self._current)
            self._current = None
        if self._spares:
            seg = self._spares.popleft()
        else:
            # The background thread is behind. Not zero-filled: that would hold every put up
            # for a 32 MiB write; this segment's flushes cost what a new file's do instead.
            seg = self._new_segment(zero_fill=False)
        self._current = seg
        self._submit(self._prepare_spare)
        return seg

    def _seal(self, seg: _Segment) -> None:
        self._submit(self._checkpoint, seg)

    def _submit(self, fn: Callable[..., None], *args: object) -> None:
        """Queue background work (lock held); remembers it until done, for `wait_idle`/`close`."""
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(self._background.submit(fn, *args))

    def _close_fd(self, seg: _Segment) -> None:
        if seg in self._open:
            self._open.discard(seg)
            os.close(seg.fd)

    # -- background: starting, preparing and checkpointing segments ----------------------------

    def _maybe_start(self) -> None:
        if self._closed or self._state != "idle":
            return
        if time.monotonic() - self._start_failed_at < _RETRY_START_SECONDS:
            return
        self._state = "starting"
        self._submit(self._start)

    def _start(self) -> None:
        instance = f"{os.getpid()}-{secrets.token_hex(6)}"
        locking = self.dir / f"{instance}{_LOCKING_SUFFIX}"
        lock_fd: int | None = None
        try:
            if not self.dir.is_dir():
                os.mkdir(self.dir)
                _fsync_path(self.root, directory=True)
            # Held before it gets the name replays look for, so no replay can take it for an
            # orphan's.
            lock_fd = os.open(locking, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.mkdir(self.dir / instance)
            os.rename(locking, self.dir / f"{instance}{_LOCK_SUFFIX}")
            _fsync_path(self.dir, directory=True)
            self._id = instance
            first = self._new_segment(zero_fill=True)
        except OSError as exc:
            log.warning("blob journal: could not start (%s); puts stay on the classic path for now", exc)
            locking.unlink(missing_ok=True)
            remove_instance(self.dir, instance)
            if lock_fd is not None:
                os.close(lock_fd)
            with self._lock:
                self._id = ""
                self._state = "idle"
                self._start_failed_at = time.monotonic()
            return
        with self._lock:
            self._lock_fd = lock_fd
            if self._closed:
                return  # close() drops `first` with the rest
            self._current = first
            self._state = "running"
            # A spare now, so the first rotation does not wait for one.
            self._submit(self._prepare_spare)
        log.debug("blob journal %s running, %d-byte segments", self.dir / instance, self.segment_bytes)

    def _new_segment(self, *, zero_fill: bool) -> _Segment:
        with self._counters:
            self._files += 1
            path = self.dir / self._id / f"seg-{self._files:04d}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            if zero_fill:
                # Real zeros, not fallocate: writing into an unwritten extent changes metadata.
                for offset in range(0, self.segment_bytes, len(_ZEROS)):
                    os.pwrite(fd, _ZEROS[: self.segment_bytes - offset], offset)
            else:
                os.ftruncate(fd, self.segment_bytes)
            seg = _Segment(path, fd, self.segment_bytes)
            os.fsync(fd)
            seg.restart()
            _fsync_path(path.parent, directory=True)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._open.add(seg)
        return seg

    def _prepare_spare(self) -> None:
        with self._lock:
            if self._closed or self._state != "running" or len(self._spares) >= self._spare_cap:
                return
        try:
            seg = self._new_segment(zero_fill=True)
        except OSError as exc:
            log.warning("blob journal: could not prepare a segment: %s", exc)
            return
        with self._lock:
            self._spares.append(seg)

    def _checkpoint(self, seg: _Segment) -> None:
        """Make everything `seg` recorded durable on its own, then reuse or drop the segment."""
        with self._lock:
            if self._state == "failed":
                return  # keep every record for the replay
            placed = list(seg.placed)
        try:
            sync_files(self.root, placed)
        except OSError as exc:
            # Its records still protect those files: keep them, and every later one, for the
            # next start to replay, and accept no more writes meanwhile.
            log.error(
                "blob journal: checkpoint of %s failed; writes stop until a restart replays it: %s", seg.path, exc
            )
            with self._lock:
                self._state = "failed"
            return
        with self._lock:
            reuse = not seg.broken and not self._closed and len(self._spares) < self._spare_cap
        if reuse:
            try:
                seg.restart()
            except OSError as exc:
                log.warning("blob journal: could not reuse %s: %s", seg.path, exc)
            else:
                with self._lock:
                    self._spares.append(seg)
                return
        self._drop(seg)

    def _drop(self, seg: _Segment) -> None:
        # Invalidate its header first: an unlink a power cut undoes must not bring back records
        # that newer ones (in segments since reused) replaced.
        with contextlib.suppress(OSError):
            os.pwrite(seg.fd, bytes(_BLOCK), 0)
            _fdatasync(seg.fd)
        seg.path.unlink(missing_ok=True)
        with self._lock:
            seg.dropped = True
            if seg.writers == 0:
                self._close_fd(seg)

    # -- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Checkpoint everything and remove this instance's journal (call after the last put)."""
        with self._lock:
            self._closed = True
            if self._current is not None:
                self._seal(self._current)
                self._current = None
        self._wait_pending(raise_errors=False)
        self._background.shutdown(wait=True)
        with self._lock:
            failed = self._state == "failed"
            for seg in list(self._open):
                self._close_fd(seg)
            self._spares.clear()
        if self._lock_fd is not None:
            if not failed:
                remove_instance(self.dir, self._id)
            os.close(self._lock_fd)  # a failed journal is now an orphan: replayed at the next start
            self._lock_fd = None

    def wait_idle(self) -> None:
        """Block until all background work is done (tests, benchmarks)."""
        self._wait_pending(raise_errors=True)

    def _wait_pending(self, *, raise_errors: bool) -> None:
        # Background work queues more (a start queues a spare): wait until nothing is left.
        while True:
            with self._lock:
                pending = [f for f in self._pending if not f.done()]
            if not pending:
                return
            for future in pending:
                try:
                    future.result()
                except Exception:
                    if raise_errors:
                        raise


def recover_orphans(root: Path, restore: Callable[[str, bytes], None]) -> int:
    """Replay every orphan journal under `root` (see the module docstring); returns the number
    of objects restored, re-synced or deleted. `restore(rel, data)` writes a file, which the
    replay then syncs. A live journal, this process's own included, is skipped: flock treats
    each open of its lock file on its own, so our open of it cannot take the lock either."""
    directory = root / JOURNAL_DIR
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return 0
    replayed = 0
    for name in names:
        if name.endswith(_LOCKING_SUFFIX):
            _remove_if_unheld(directory / name)  # a start that died before taking its lock
            continue
        if not name.endswith(_LOCK_SUFFIX):
            continue
        instance = name[: -len(_LOCK_SUFFIX)]
        lock_path = directory / name
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # removed by its owner meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live process
            try:
                if os.fstat(fd).st_ino != os.stat(lock_path).st_ino:
                    continue  # replaced since we opened it
            except FileNotFoundError:
                continue  # another replay removed it
            replayed += replay_instance(root, directory / instance, restore)
            remove_instance(directory, instance)
        finally:
            os.close(fd)
    return replayed


def _remove_if_unheld(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        path.unlink(missing_ok=True)
    except BlockingIOError:
        pass
    finally:
        os.close(fd)


def replay_instance(root: Path, directory: Path, restore: Callable[[str, bytes], None]) -> int:
    """Apply one orphan instance's records to the files under `root`."""
    records: list[tuple[int, int, str, memoryview | None]] = []  # (seq, kind, rel, data)
    maps: list[mmap.mmap] = []
    try:
        for seg_path in _segment_files(directory):
            try:
                f = open(seg_path, "rb")
            except FileNotFoundError:
                continue  # removed by a replay running at the same time
            with f:
                if os.fstat(f.fileno()).st_size < _BLOCK:
                    continue
                m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            maps.append(m)
            nonce = _segment_nonce(m)
            if nonce is not None:
                records.extend(_records(m, nonce))
        records.sort(key=lambda r: r[0])
        latest = {rel: (kind, data) for _, kind, rel, data in records}
        touched: list[str] = []
        for rel, (kind, data) in latest.items():
            if key_problem(rel) is not None or rel.split("/", 1)[0] in RESERVED:
                log.warning("blob journal: skipping a record with an unusable path %r", rel)
                continue
            path = root / rel
            if kind == DELETE:
                with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
                    path.unlink()
            elif kind == PUT and data is not None and not _same_content(path, data):
                try:
                    restore(rel, bytes(data))
                except InvalidBlobKey as exc:  # e.g. a directory now stands where the file was
                    log.warning("blob journal: could not restore %s: %s", rel, exc)
                    continue
            touched.append(rel)
        sync_files(root, touched)
        if touched:
            log.info("blob journal: replayed %d records from %s", len(touched), directory)
        return len(touched)
    finally:
        records.clear()  # views into the maps
        for m in maps:
            with contextlib.suppress(BufferError):
                m.close()


def _segment_files(directory: Path) -> Iterator[Path]:
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    for name in sorted(names):
        if name.startswith("seg-"):
            yield directory / name


def _segment_nonce(m: mmap.mmap) -> int | None:
    magic, nonce, crc = _SEGMENT_HEADER.unpack_from(m, 0)
    if magic != _SEGMENT_MAGIC or zlib.crc32(m[:16]) != crc:
        return None  # never started, torn, or dropped
    return int(nonce)


def _records(m: mmap.mmap, nonce: int) -> Iterator[tuple[int, int, str, memoryview | None]]:
    view = memoryview(m)
    offset = _BLOCK
    end = len(m)
    while offset + _RECORD_SIZE <= end:
        magic, kind, _, path_len, data_len, rec_nonce, seq, body_crc = _HEAD.unpack_from(m, offset)
        (head_crc,) = struct.unpack_from("<I", m, offset + _HEAD.size)
        body = offset + _RECORD_SIZE
        if (
            magic != _RECORD_MAGIC
            or rec_nonce != nonce
            or zlib.crc32(view[offset : offset + _HEAD.size]) != head_crc
            or kind not in (PUT, DELETE, PUT_DURABLE)
            or body + path_len + data_len > end
        ):
            return  # the end, a torn header, or bytes of the segment's previous use
        path = view[body : body + path_len]
        data = view[body + path_len : body + path_len + data_len]
        if zlib.crc32(data, zlib.crc32(path)) != body_crc:
            return  # torn
        try:
            rel = bytes(path).decode()
        except UnicodeDecodeError:
            return
        yield seq, kind, rel, (data if kind == PUT else None)
        offset += _align(_RECORD_SIZE + path_len + data_len)


def _same_content(path: Path, data: memoryview) -> bool:
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size != len(data):
                return False
            return f.read() == data
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return False


def sync_files(root: Path, rels: list[str]) -> None:
    """fdatasync each file that exists, then fsync the directories from its parent (or, for a
    file that is gone, from its nearest existing ancestor, so its unlink is durable) up to `root`."""
    directories: set[Path] = set()
    for rel in dict.fromkeys(rels):
        path = root / rel
        try:
            _fsync_path(path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            pass
        parent = path.parent
        while parent != root and not parent.is_dir():
            parent = parent.parent  # removed with the file (deletes prune empty directories)
        while parent not in directories and (parent == root or parent.is_relative_to(root)):
            directories.add(parent)
            if parent == root:
                break
            parent = parent.parent
    # Deepest first: a directory's entry in its parent is synced after its own contents.
    for directory in sorted(directories, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(FileNotFoundError):
            _fsync_path(directory, directory=True)


def remove_instance(journal_dir: Path, instance: str) -> None:
    """Delete an instance's segments, directory and lock file (its owner is gone or closing)."""
    for seg_path in _segment_files(journal_dir / instance):
        seg_path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        os.rmdir(journal_dir / instance)
    (journal_dir / f"{instance}{_LOCK_SUFFIX}").unlink(missing_ok=True)
    with contextlib.suppress(FileNotFoundError):
        _fsync_path(journal_dir, directory=True)


def _pwritev(fd: int, buffers: list[bytes], offset: int) -> None:
    total = sum(len(b) for b in buffers)
    written = os.pwritev(fd, buffers, offset)
    if written != total:  # a short write: finish it from a joined copy
        joined = b"".join(buffers)
        while written < total:
            written += os.pwrite(fd, joined[written:], offset + written)
