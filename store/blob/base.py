"""The blob store interface: whole objects under string keys, in a bucket or a local directory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Protocol, runtime_checkable

# S3 SigV4 caps presigned URLs at 7 days; the local store applies the same cap so both behave alike.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
DEFAULT_CONTENT_TYPE = "application/octet-stream"


@runtime_checkable
class BlobStore(Protocol):
    """Async blob store. Every method may raise RetryableError or PermanentError (spyglass.store.errors).

    Keys follow `spyglass.store.blob.keys` (InvalidBlobKey otherwise); the configured store
    prefix is added and removed by the store, callers never see it.
    """

    name: str

    async def put(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> None:
        """Store `data` under `key`, replacing any previous object; returns once durable."""
        ...

    async def get(self, key: str) -> bytes:
        """The object's bytes; BlobNotFound if the key does not exist."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove `key`; deleting a missing key is not an error."""
        ...

    async def delete_many(self, keys: Iterable[str]) -> None: ...

    def list(self, prefix: str = "", start_after: str | None = None) -> AsyncIterator[str]:
        """Keys starting with `prefix` and greater than `start_after`, in byte (UTF-8) order."""
        ...

    async def presign_get(self, key: str, expires_in: int) -> str:
        """A URL that lets a plain HTTP GET read `key` for `expires_in` seconds."""
        ...

    async def presign_put(
        self,
        key: str,
        expires_in: int,
        content_type: str,
        content_length: int | None = None,
        checksum_sha256_b64: str | None = None,
    ) -> str:
        """A URL for one HTTP PUT of `key`; the client must send the given Content-Type (and
        Content-Length / x-amz-checksum-sha256 when those are set)."""
        ...

    async def ensure_bucket(self) -> None:
        """Create the bucket (S3) or directory (local) if missing. Never done implicitly."""
        ...

    async def check(self) -> None:
        """Raise RetryableError/PermanentError unless the store is reachable and usable."""
        ...

    async def close(self) -> None: ...


def check_expiry(expires_in: int) -> int:
    if not 1 <= expires_in <= MAX_PRESIGN_SECONDS:
        raise ValueError(f"expires_in must be 1..{MAX_PRESIGN_SECONDS} seconds, got {expires_in}")
    return int(expires_in)
