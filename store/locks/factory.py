"""Pick the merge-lock backend: Redis when several workers may share the queue."""

from __future__ import annotations

from spyglass.store.config import RedisConfig

from .base import LocalMergeLocks, MergeLocks
from .redis_locks import RedisMergeLocks


def open_merge_locks(redis_cfg: RedisConfig | None) -> MergeLocks:
    if redis_cfg is None or redis_cfg.url is None:
        return LocalMergeLocks()
    return RedisMergeLocks(redis_cfg)
