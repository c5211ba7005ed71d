"""Blob-specific errors, placed in the shared Retryable/Permanent taxonomy."""

from __future__ import annotations

from spyglass.store.errors import PermanentError


class BlobNotFound(PermanentError):
    """The key does not exist (retrying cannot make it appear)."""

    def __init__(self, component: str, key: str, url: str | None = None) -> None:
        super().__init__(component, f"no such key: {key!r}", url)
        self.key = key


class InvalidBlobKey(PermanentError):
    """The key is malformed, or (local store) collides with an existing key used as a directory."""

    def __init__(self, component: str, key: str, reason: str) -> None:
        super().__init__(component, f"invalid key {key!r}: {reason}")
        self.key = key
        self.reason = reason
