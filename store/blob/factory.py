"""Pick the blob backend from the configuration."""

from __future__ import annotations

from spyglass.store.config import BlobConfig
from spyglass.store.errors import ConfigError

from .base import BlobStore
from .local import LocalBlobStore
from .s3 import S3BlobStore
from .signing import LocalUrlSigner


def open_blob_store(cfg: BlobConfig, *, name: str, public_base_url: str, signing_secret: bytes) -> BlobStore:
    """An S3 store when `cfg.bucket` is set, else a local directory at `cfg.local_dir`.

    `public_base_url` and `signing_secret` serve the local store's presigned URLs (S3 signs its
    own). Nothing is created here: call `ensure_bucket()` to create a missing bucket/directory.
    """
    if cfg.is_s3:
        return S3BlobStore(cfg, name=name)
    if not cfg.local_dir:
        raise ConfigError("blob.local_dir", "required when no bucket is configured")
    return LocalBlobStore(
        cfg.local_dir,
        name=name,
        prefix=cfg.prefix,
        signer=LocalUrlSigner(signing_secret, public_base_url),
        journal=cfg.journal,
    )
