"""Small value rules shared by the event bodies: ids, environments, metadata, times.

Each function either returns the normalized value or raises :func:`field_problem` naming the field,
so it can be called from a struct's ``__post_init__``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from spyglass.collector.events.problems import field_problem
from spyglass.collector.otel.values import normalize_environment  # noqa: F401 - re-exported
from spyglass.collector.time_range import in_range, out_of_range
from spyglass.store.postgres.text import NUL, NUL_PROBLEM

MAX_ID_LENGTH = 800  # room for the id inside a blob key (S3 keys are at most 1024 bytes)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def check_id(value: str, field: str) -> None:
    if not value:
        raise field_problem(field, "must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise field_problem(field, f"must be at most {MAX_ID_LENGTH} characters, got {len(value)}")
    if "\r" in value:
        raise field_problem(field, "must not contain a carriage return")
    # Ids end up in PostgreSQL too (comments, dataset run items, media), which refuses NUL.
    if NUL in value:
        raise field_problem(field, NUL_PROBLEM)


def check_time(moment: datetime | None, field: str) -> None:
    """Every time Spyglass stores lies in one range (`collector.time_range`), on every path."""
    if moment is not None and not in_range(moment):
        raise field_problem(field, out_of_range(moment.isoformat()))


def check_pg_text(value: str | None, field: str) -> None:
    """A value the worker looks up or writes in PostgreSQL (a prompt name, a score config id, a
    dataset run): one with a NUL would fail the whole payload's write there."""
    if value is not None and NUL in value:
        raise field_problem(field, NUL_PROBLEM)


def wrap_metadata(value: Any) -> dict[str, Any] | None:
    """Metadata is an object; legacy SDKs also send strings or lists, kept under ``metadata``."""
    if value is None or isinstance(value, dict):
        return value
    return {"metadata": value}


def epoch_seconds(moment: datetime) -> float:
    """Float seconds since the epoch, exact to the microsecond. A naive time is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # Integer microseconds first, one division last: the float is the nearest to the exact value,
    # so its shortest repr is the exact decimal ClickHouse parses into DateTime64(6).
    return ((moment - _EPOCH) // _MICROSECOND) / 1_000_000
