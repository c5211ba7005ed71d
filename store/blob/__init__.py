"""Blob storage: whole objects under string keys, in an S3 bucket or a local directory."""

from .base import MAX_PRESIGN_SECONDS, BlobStore
from .errors import BlobNotFound, InvalidBlobKey
from .factory import open_blob_store
from .keys import check_key, key_problem
from .local import LocalBlobStore
from .s3 import S3BlobStore
from .signing import LocalUrlSigner

__all__ = [
    "MAX_PRESIGN_SECONDS",
    "BlobNotFound",
    "BlobStore",
    "InvalidBlobKey",
    "LocalBlobStore",
    "LocalUrlSigner",
    "S3BlobStore",
    "check_key",
    "key_problem",
    "open_blob_store",
]
