"""Locks that serialize read-merge-write of the same entity across workers."""

from .base import Lease, LocalMergeLocks, MergeLocks
from .factory import open_merge_locks
from .redis_locks import RedisMergeLocks

__all__ = ["Lease", "LocalMergeLocks", "MergeLocks", "RedisMergeLocks", "open_merge_locks"]
