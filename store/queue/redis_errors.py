"""redis-py exceptions → the Retryable/Permanent taxonomy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from redis import exceptions as redis_errors

from spyglass.store.errors import PermanentError, RetryableError, StoreError

# Server replies that mean "not now": loading, failover, busy script, maxmemory reached.
_TRANSIENT_REPLIES = ("BUSY", "LOADING", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "OOM")


def map_redis_error(exc: redis_errors.RedisError, *, component: str, url: str) -> StoreError:
    if isinstance(exc, (redis_errors.AuthenticationError, redis_errors.AuthorizationError)):
        return PermanentError(component, f"{type(exc).__name__}: {exc}", url)
    if isinstance(exc, (redis_errors.ConnectionError, redis_errors.TimeoutError)):
        return RetryableError(component, f"{type(exc).__name__}: {exc}", url)
    if isinstance(exc, redis_errors.ResponseError) and str(exc).startswith(_TRANSIENT_REPLIES):
        return RetryableError(component, str(exc), url)
    return PermanentError(component, f"{type(exc).__name__}: {exc}", url)


@contextmanager
def redis_errors_mapped(component: str, url: str) -> Iterator[None]:
    """Re-raise any RedisError raised inside (also across awaits) as Retryable/PermanentError."""
    try:
        yield
    except redis_errors.RedisError as exc:
        raise map_redis_error(exc, component=component, url=url) from exc
