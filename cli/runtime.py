"""Process-level set-up the CLI does once: the data-dir lock and generated secrets."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
from pathlib import Path

import msgspec

from spyglass.store.errors import StartupError


class Secrets(msgspec.Struct, frozen=True):
    salt: str
    signing_key: str


class DataDirLock:
    """An exclusive lock on <data_dir>/spyglass.lock for as long as the process runs.

    chDB allows one owner of its directory; failing here first gives a clear message instead of
    an engine error, and stops a second `spyglass serve` before it touches anything.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "spyglass.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StartupError(
                "data dir", str(self.path.parent), f"in use by another running Spyglass (pid {owner})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def held_by_other(self) -> bool:
        """True when another process holds the lock (used by admin commands)."""
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def load_or_create_secrets(data_dir: Path, salt: str | None) -> Secrets:
    """The SALT (configured, or generated once and kept in data_dir) and the key that signs
    local presigned URLs, derived from the salt so every process of a deployment agrees.
    Both must stay stable across restarts or keys and links break."""
    if salt:
        return Secrets(salt=salt, signing_key=_derive(salt))
    path = data_dir / "secrets.json"
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text("utf-8"))
    if "salt" not in stored:
        stored["salt"] = secrets.token_hex(32)
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(stored, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    return Secrets(salt=stored["salt"], signing_key=_derive(stored["salt"]))


def _derive(salt: str) -> str:
    return hashlib.sha256(b"spyglass/blob-url-signing/" + salt.encode()).hexdigest()
