"""Small value rules shared by the event bodies: ids, environments, metadata, times.

Each function either returns the normalized value or raises :func:`field_problem` naming the field,
so it can be called from a struct's ``__post_init__``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from spyglass.collector.events.problems import field_problem

MAX_ID_LENGTH = 800  # room for the id inside a blob key (S3 keys are at most 1024 bytes)
MAX_ENVIRONMENT_LENGTH = 40
DEFAULT_ENVIRONMENT = "default"

_ENVIRONMENT = re.compile(r"[a-z0-9_-]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def check_id(value: str, field: str) -> None:
    if not value:
        raise field_problem(field, "must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise field_problem(field, f"must be at most {MAX_ID_LENGTH} characters, got {len(value)}")
    if "\r" in value:
        raise field_problem(field, "must not contain a carriage return")


def normalize_environment(value: str | None) -> str:
    """Langfuse's rule: lower-case, drop leading ``langfuse[-_]`` (repeatedly), cut to 40 chars.

    Anything that is then empty or not ``[a-z0-9_-]+`` becomes ``default``: environments are
    normalized, never a reason to reject an event. The ``langfuse`` prefix is reserved for the
    backend's own jobs (e.g. LLM-as-a-judge traces), which do not come through here.
    """
    if not value:
        return DEFAULT_ENVIRONMENT
    # A project has a handful of environments, so caching pays; but only short values, so a
    # client cannot fill the cache with megabyte-long strings.
    return _normalize_short(value) if len(value) <= 100 else _normalize(value)


@lru_cache(maxsize=1024)
def _normalize_short(value: str) -> str:
    return _normalize(value)


def _normalize(value: str) -> str:
    env = value.lower()
    while env.startswith("langfuse"):
        env = env[len("langfuse") :]
        if env[:1] in ("-", "_"):
            env = env[1:]
    env = env[:MAX_ENVIRONMENT_LENGTH]
    return env if _ENVIRONMENT.fullmatch(env) else DEFAULT_ENVIRONMENT


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
