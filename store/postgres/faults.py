"""Map asyncpg failures onto the shared error taxonomy (retry or dead-letter)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import asyncpg

from spyglass.store.errors import PermanentError, RetryableError, StoreError

COMPONENT = "postgres"

# SQLSTATE classes where the same statement may succeed later: connection (08), transaction
# rollback such as serialization failure and deadlock (40), insufficient resources (53),
# operator intervention such as shutdown, "cannot connect now" and statement timeout (57),
# lock not available (55P03).
_RETRYABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.TransactionRollbackError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.LockNotAvailableError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    OSError,
    TimeoutError,
)


class Conflict(PermanentError):
    """A write collided with an existing row (a unique name or id)."""

    def __init__(self, message: str) -> None:
        super().__init__(COMPONENT, message)


class NotFound(PermanentError):
    """A row the call depends on does not exist."""

    def __init__(self, message: str) -> None:
        super().__init__(COMPONENT, message)


class UnstorableText(PermanentError):
    """A value held a NUL character, which PostgreSQL text and jsonb refuse. Request data is
    checked before it gets here (`text.py`); this names what slipped through anyway."""

    def __init__(self, message: str) -> None:
        super().__init__(COMPONENT, f"a value contains a NUL character, which PostgreSQL cannot store ({message})")


# "invalid byte sequence for encoding UTF8: 0x00" (22021) and, for jsonb, "unsupported Unicode
# escape sequence: \u0000 cannot be converted to text" (22P05).
_NUL_REFUSED = (asyncpg.exceptions.CharacterNotInRepertoireError, asyncpg.exceptions.UntranslatableCharacterError)


def refused_nul(exc: BaseException) -> bool:
    """Whether `exc`, or an error it was raised from, is PostgreSQL refusing a NUL."""
    seen: BaseException | None = exc
    for _ in range(8):  # a chain of causes, bounded
        if seen is None:
            return False
        if isinstance(seen, (*_NUL_REFUSED, UnstorableText)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def translate(exc: BaseException) -> StoreError:
    message = one_line(exc)
    if isinstance(exc, _NUL_REFUSED):
        return UnstorableText(message)
    if isinstance(exc, _RETRYABLE):
        return RetryableError(COMPONENT, message)
    if isinstance(exc, asyncpg.InterfaceError) and "closed" in message.lower():
        # The pool or connection was closed under us (shutdown, failover): try again elsewhere.
        return RetryableError(COMPONENT, message)
    return PermanentError(COMPONENT, message)


@contextlib.contextmanager
def db_errors() -> Iterator[None]:
    """Re-raise driver errors as RetryableError / PermanentError; ours pass through."""
    try:
        yield
    except StoreError:
        raise
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        raise translate(exc) from exc


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if isinstance(exc, OSError | TimeoutError) else text
