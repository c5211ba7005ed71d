"""Blob store in a local directory: `{local_dir}/{prefix}{key}` is one file per key.

Writes go to `{local_dir}/.spyglass-tmp/`, are fsynced, renamed into place with os.replace, and
the target directory (plus any directory created for it) is fsynced, so `put` returns only when
the object survives a power cut. Concurrent puts into one directory share its fsync (group
commit, `group_commit.py`). Readers never see a partial object. Deletes remove directories
left empty so the tree mirrors S3, where directories do not exist; they are not fsynced (a
delete lost in a crash is harmless to redo). The content type is not stored: whoever serves a
presigned GET takes it from the record that points at the blob.

With `journal=True` (the events store: the accept path waits on its puts) a put writes and
renames its file without any fsync and is made durable by one flush of a write-ahead journal
instead, see `journal.py`. Whatever the setting, opening a store replays the journals a crashed
process left behind.

Unlike S3, a key cannot be both an object and a "directory" (`a` and `a/b`); such a put raises
InvalidBlobKey. Presigned URLs are served by Spyglass itself, see `signing.py`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import TypeVar

from spyglass.store.errors import PermanentError, RetryableError

from .base import DEFAULT_CONTENT_TYPE, check_expiry
from .errors import BlobNotFound, InvalidBlobKey
from .fsync import fdatasync as _fdatasync
from .fsync import fsync_dir as _fsync_dir
from .group_commit import DirSyncs
from .journal import DEFAULT_SEGMENT_BYTES, Journal, recover_orphans
from .journal import sync_files as journal_sync_files
from .keys import check_key, check_prefix
from .layout import RESERVED, TMP_DIR
from .signing import LocalUrlSigner, check_store_name

# Leftovers of a crash mid-put; younger files may belong to a put running in another process.
_STALE_TMP_SECONDS = 3600.0
_LIST_CHUNK = 1000

T = TypeVar("T")


class LocalBlobStore:
    """A directory with the same key layout as the S3 store."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        name: str,
        signer: LocalUrlSigner,
        prefix: str = "",
        max_workers: int = 8,
        journal: bool = False,
        journal_segment_bytes: int = DEFAULT_SEGMENT_BYTES,
    ) -> None:
        self.name = check_store_name(name)
        self.component = f"blob store {name!r} (local)"
        self.root = Path(root).absolute()
        self.prefix = check_prefix(self.component, prefix)
        if (prefix.split("/", 1)[0] if prefix else "") in RESERVED:
            raise InvalidBlobKey(self.component, prefix, f"{prefix.split('/', 1)[0]} is reserved")
        self.signer = signer
        self._tmp = self.root / TMP_DIR
        # Our own threads: fsync-heavy writes must not starve the loop's default executor.
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"blob-{name}")
        # Looked up at each call, not bound now, so tests can stand in for the fsync.
        self._dir_syncs = DirSyncs(lambda path: _fsync_dir(path))
        self.journal = Journal(self.root, segment_bytes=journal_segment_bytes) if journal else None
        self._closed = False

    # -- plumbing ------------------------------------------------------------------------------

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        if self._closed:
            raise RetryableError(self.component, "store is closed", str(self.root))
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn, *args)
        except PermissionError as exc:
            raise PermanentError(self.component, f"{exc}", str(self.root)) from exc
        except OSError as exc:
            # Disk full, I/O error, NFS hiccup: worth another try later.
            raise RetryableError(self.component, f"{exc}", str(self.root)) from exc

    def _full_key(self, key: str) -> str:
        """The path below the root (prefix + key), validated."""
        full = self.prefix + check_key(self.component, key)
        if full.split("/", 1)[0] in RESERVED:
            raise InvalidBlobKey(self.component, key, f"{full.split('/', 1)[0]} is reserved")
        return check_key(self.component, full)

    def _path(self, key: str) -> Path:
        return self.root / self._full_key(key)

    def _conflict(self, key: str) -> InvalidBlobKey:
        return InvalidBlobKey(self.component, key, "collides with an existing key used as a directory or file")

    # -- writes --------------------------------------------------------------------------------

    def _ensure_dir(self, directory: Path, key: str, *, durable: bool = True) -> None:
        """Create `directory` and missing parents."""
        missing: list[Path] = []
        probe = directory
        while not probe.is_dir():
            missing.append(probe)
            probe = probe.parent
        for path in reversed(missing):
            try:
                os.mkdir(path)
            except FileExistsError:
                if not path.is_dir():
                    raise self._conflict(key) from None
            except NotADirectoryError:
                raise self._conflict(key) from None
            if durable:
                # A new directory entry is durable only once its parent is synced.
                _fsync_dir(path.parent)

    def _write_tmp(self, data: bytes, *, durable: bool = True) -> Path:
        self._ensure_dir(self._tmp, TMP_DIR)
        tmp = self._tmp / f"{secrets.token_hex(12)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        with open(fd, "wb", closefd=True) as out:
            out.write(data)
            if durable:
                out.flush()
                _fdatasync(out.fileno())
        return tmp

    def _place(self, target: Path, key: str, data: bytes, *, durable: bool) -> None:
        """Write `data` at `target` (durably, or leaving that to the journal)."""
        tmp = self._write_tmp(data, durable=durable)
        try:
            # A concurrent delete may remove the (then empty) target directory between our mkdir
            # and the rename; recreate it and try again.
            for attempt in range(5):
                self._ensure_dir(target.parent, key, durable=durable)
                try:
                    os.replace(tmp, target)
                    break
                except FileNotFoundError:
                    if attempt == 4:
                        raise
                except (IsADirectoryError, NotADirectoryError):
                    raise self._conflict(key) from None
            if durable:
                self._dir_syncs.sync(target.parent)
        finally:
            tmp.unlink(missing_ok=True)

    def _put_sync(self, key: str, data: bytes) -> None:
        full = self._full_key(key)
        target = self.root / full
        journal = self.journal
        if journal is None:
            self._place(target, key, data, durable=True)
            return
        journal.check()  # before writing anything: a failed journal accepts no writes
        self._place(target, key, data, durable=False)
        small = len(data) <= journal.max_record
        if small and journal.put(full, data):
            return
        # Not journaled: too large for a record, or the journal is not running (this put starts
        # it) or closed. Sync the file and every directory up to the root, which journaled puts
        # may have created without a sync.
        journal_sync_files(self.root, [full])
        if not small:
            journal.put_durable(full)  # supersedes any journaled version, so a replay keeps this one

    async def put(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> None:
        await self._run(self._put_sync, key, bytes(data))

    # -- reads ---------------------------------------------------------------------------------

    def _get_sync(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise BlobNotFound(self.component, key, str(self.root)) from None

    async def get(self, key: str) -> bytes:
        return await self._run(self._get_sync, key)

    async def exists(self, key: str) -> bool:
        return await self._run(lambda: self._path(key).is_file())

    # -- deletes -------------------------------------------------------------------------------

    def _delete_sync(self, keys: list[str]) -> None:
        journal = self.journal
        if journal is not None:
            journal.check()
        for key in keys:
            full = self._full_key(key)
            path = self.root / full
            try:
                path.unlink()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                continue
            if journal is not None:
                journal.delete(full)
            parent = path.parent
            while parent != self.root and parent.is_relative_to(self.root):
                try:
                    os.rmdir(parent)
                except OSError:
                    break  # not empty (or gone): stop climbing
                parent = parent.parent

    async def delete(self, key: str) -> None:
        await self._run(self._delete_sync, [key])

    async def delete_many(self, keys: Iterable[str]) -> None:
        batch = list(keys)
        for key in batch:
            self._path(key)  # validate all before deleting any
        await self._run(self._delete_sync, batch)

    # -- listing -------------------------------------------------------------------------------

    def _walk(self, directory: Path, rel: str, name_prefix: str, start_after: str | None) -> Iterator[str]:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        items: list[tuple[str, bool]] = []
        for entry in entries:
            if not entry.name.startswith(name_prefix) or (not rel and entry.name in RESERVED):
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            # Sorting a directory's entries as "name/" puts each subtree exactly where its keys
            # fall in a sort of full keys ("a-c" < "a/b" because "-" < "/").
            items.append((rel + entry.name + ("/" if is_dir else ""), is_dir))
        items.sort()
        for sort_key, is_dir in items:
            if is_dir:
                # Every key below "p/" is <= start_after when "p/" < start_after and not its prefix.
                if start_after is not None and sort_key < start_after and not start_after.startswith(sort_key):
                    continue
                yield from self._walk(directory / sort_key[len(rel) : -1], sort_key, "", start_after)
            elif start_after is None or sort_key > start_after:
                yield sort_key

    def _iter_full_keys(self, prefix: str, start_after: str | None) -> Iterator[str]:
        full_prefix = self.prefix + prefix
        dir_part, _, name_prefix = full_prefix.rpartition("/")
        directory = self.root / dir_part if dir_part else self.root
        rel = dir_part + "/" if dir_part else ""
        full_start = None if start_after is None else self.prefix + start_after
        yield from self._walk(directory, rel, name_prefix, full_start)

    async def list(self, prefix: str = "", start_after: str | None = None) -> AsyncIterator[str]:
        check_prefix(self.component, prefix)
        keys = self._iter_full_keys(prefix, start_after)
        cut = len(self.prefix)
        # One generator advanced chunk by chunk in the executor: O(n) for any tree shape, and the
        # event loop only ever waits on a thread.
        while True:
            chunk = await self._run(lambda: list(islice(keys, _LIST_CHUNK)))
            for full_key in chunk:
                yield full_key[cut:]
            if len(chunk) < _LIST_CHUNK:
                return

    # -- presigned URLs ------------------------------------------------------------------------

    async def presign_get(self, key: str, expires_in: int) -> str:
        self._path(key)
        expires = int(time.time()) + check_expiry(expires_in)
        return self.signer.build(self.name, key, "GET", expires)

    async def presign_put(
        self,
        key: str,
        expires_in: int,
        content_type: str,
        content_length: int | None = None,
        checksum_sha256_b64: str | None = None,
    ) -> str:
        self._path(key)
        expires = int(time.time()) + check_expiry(expires_in)
        return self.signer.build(
            self.name,
            key,
            "PUT",
            expires,
            content_type=content_type,
            content_length=content_length,
            checksum_sha256=checksum_sha256_b64,
        )

    def verify(
        self, store_name: str, key: str, method: str, expires: int | str, sig: str, now: float | None = None
    ) -> bool:
        """Check a GET URL's parts (for PUT URLs with content fields use `signer.verify_request`)."""
        return self.signer.verify(store_name, key, method, expires, sig, now)

    def file_path(self, key: str) -> Path:
        """Where `key` lives on disk (for the HTTP handler to stream it with sendfile)."""
        return self._path(key)

    # -- lifecycle -----------------------------------------------------------------------------

    def _ensure_root(self) -> None:
        self._ensure_dir(self.root, "")
        self._ensure_dir(self._tmp, TMP_DIR)
        cutoff = time.time() - _STALE_TMP_SECONDS
        for entry in os.scandir(self._tmp):
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
        recover_orphans(self.root, self._restore)

    def _restore(self, full: str, data: bytes) -> None:
        self._place(self.root / full, full, data, durable=False)  # the replay syncs what it restores

    async def ensure_bucket(self) -> None:
        """Create the directory, replay the journals of crashed processes (before anything reads
        the store) and clear stale temp files of crashed writes."""
        await self._run(self._ensure_root)

    def _check_sync(self) -> None:
        if not self.root.is_dir():
            raise PermanentError(self.component, "directory does not exist", str(self.root))
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise PermanentError(self.component, "directory is not writable", str(self.root))

    async def check(self) -> None:
        await self._run(self._check_sync)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.journal is None:
            # Running writes finish in their threads; nothing new is accepted.
            self._executor.shutdown(wait=False)
            return
        journal = self.journal

        def finish() -> None:
            # The checkpoint must follow the last put that may still append to the journal.
            self._executor.shutdown(wait=True)
            journal.close()

        await asyncio.get_running_loop().run_in_executor(None, finish)
