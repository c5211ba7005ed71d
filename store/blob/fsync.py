"""The flushes the local store and its journal make durability of."""

from __future__ import annotations

import os
from pathlib import Path

# A file's data plus the metadata needed to read it back (its size): all a put needs, without
# the timestamps fsync would also write.
fdatasync = getattr(os, "fdatasync", os.fsync)


def fsync_path(path: Path, *, directory: bool = False) -> None:
    """fdatasync a file, or fsync a directory (making the entries renamed into it durable)."""
    flags = os.O_RDONLY | os.O_CLOEXEC | (os.O_DIRECTORY if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd) if directory else fdatasync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fsync_path(path, directory=True)
