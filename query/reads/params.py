"""Query-string parsing for the public API: every bad value is a 400 that names its parameter."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec
from multidict import MultiMapping

from spyglass.collector.http import ApiError, bad_request
from spyglass.collector.json_depth import JsonTooDeep, check_depth
from spyglass.collector.time_range import in_range, out_of_range
from spyglass.store.postgres.text import NUL_PROBLEM, json_may_hold_nul, nul_path

# Upper bound for page numbers: offsets beyond this are never useful and would overflow Int32.
_MAX_PAGE = 1_000_000


class Page(msgspec.Struct, frozen=True):
    page: int
    limit: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit

    def meta(self, total: int) -> dict[str, int]:
        return {
            "page": self.page,
            "limit": self.limit,
            "totalItems": total,
            "totalPages": math.ceil(total / self.limit) if self.limit else 0,
        }


def invalid(name: str, message: str) -> ApiError:
    return bad_request(f"Invalid query parameter '{name}': {message}")


class Query:
    """Typed access to a request's query string (repeated keys allowed where Langfuse allows them)."""

    def __init__(self, query: MultiMapping[str]) -> None:
        self._q = query

    @property
    def raw(self) -> MultiMapping[str]:
        return self._q

    def has(self, name: str) -> bool:
        value = self._q.get(name)
        return value is not None and value != ""

    def string(self, name: str) -> str | None:
        """The last value of `name` (an empty value counts as absent, as upstream's zod does)."""
        values = self._q.getall(name, [])
        if not values:
            return None
        value = values[-1]
        return value if value != "" else None

    def strings(self, name: str) -> list[str]:
        """All values of a repeatable parameter (`?tags=a&tags=b`), empty ones dropped."""
        return [v for v in self._q.getall(name, []) if v != ""]

    def csv(self, name: str) -> list[str]:
        """A comma-separated list, also accepted repeated; blanks dropped."""
        out: list[str] = []
        for value in self._q.getall(name, []):
            out.extend(part.strip() for part in value.split(",") if part.strip())
        return out

    def enum(self, name: str, allowed: Collection[str], *, upper: bool = False) -> str | None:
        value = self.string(name)
        if value is None:
            return None
        if upper:
            value = value.upper()
        if value not in allowed:
            raise invalid(name, f"expected one of {', '.join(sorted(allowed))}, got {value!r}")
        return value

    def integer(self, name: str, *, default: int | None = None, lo: int | None = None, hi: int | None = None) -> int:
        raw = self.string(name)
        if raw is None:
            if default is None:
                raise invalid(name, "is required")
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid(name, f"expected an integer, got {raw!r}") from None
        if lo is not None and value < lo:
            raise invalid(name, f"must be at least {lo}, got {value}")
        if hi is not None and value > hi:
            raise invalid(name, f"must be at most {hi}, got {value}")
        return value

    def number(self, name: str) -> float | None:
        raw = self.string(name)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise invalid(name, f"expected a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise invalid(name, f"expected a finite number, got {raw!r}")
        return value

    def boolean(self, name: str) -> bool | None:
        raw = self.string(name)
        if raw is None:
            return None
        lowered = raw.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise invalid(name, f"expected true or false, got {raw!r}")

    def datetime(self, name: str) -> datetime | None:
        raw = self.string(name)
        if raw is None:
            return None
        return parse_datetime(name, raw)

    def page(self, *, default_limit: int = 50, max_limit: int = 100) -> Page:
        return Page(
            page=self.integer("page", default=1, lo=1, hi=_MAX_PAGE),
            limit=self.integer("limit", default=default_limit, lo=1, hi=max_limit),
        )


def parse_datetime(name: str, raw: str) -> datetime:
    """ISO 8601 (`2024-05-01T12:00:00Z`, offsets allowed); a value without offset is UTC. Only
    times in the range every stored time lies in (`collector.time_range`) are accepted."""
    text = raw.strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(name, f"expected an ISO 8601 datetime such as 2024-05-01T12:00:00Z, got {raw!r}") from None
    if not in_range(value):
        raise invalid(name, out_of_range(repr(raw)))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def check_json_param(name: str, raw: str) -> None:
    """A 400 naming the parameter whose JSON nests deeper than any decoder may go."""
    try:
        check_depth(raw)
    except JsonTooDeep as exc:
        raise invalid(name, str(exc)) from None


def field_groups(q: Query, allowed: Collection[str], default: Collection[str], *, strict: bool = False) -> set[str]:
    """The requested `fields` groups. Upstream ignores unknown groups on most endpoints; v3 scores
    rejects them (`strict`)."""
    requested = q.csv("fields")
    if not requested:
        return set(default)
    unknown = [f for f in requested if f not in allowed]
    if unknown and strict:
        raise invalid("fields", f"unknown field group(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    return {f for f in requested if f in allowed}


async def json_body(request: Any) -> Mapping[str, Any]:
    """The request body as a JSON object, or a 400 saying why it is not one."""
    raw = await request.read()
    if not raw:
        raise bad_request("Invalid request body: expected a JSON object")
    check_body(raw)
    try:
        body = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise bad_request(f"Invalid request body: malformed JSON ({exc})") from None
    if not isinstance(body, dict):
        raise bad_request("Invalid request body: expected a JSON object")
    return body


def check_body(raw: bytes) -> None:
    """What every JSON body bound for PostgreSQL must pass before it is decoded: a 400 for
    nesting deeper than `MAX_JSON_DEPTH`, or for a string (or key) holding a NUL, naming it.

    NUL is refused, not stripped: a prompt, dataset item or model is stored to be read back
    as sent, and a silently altered one is worse than a clear error."""
    try:
        check_depth(raw)
    except JsonTooDeep as exc:
        raise bad_request(f"Invalid request body: {exc}") from None
    if not json_may_hold_nul(raw):
        return
    try:
        value = msgspec.json.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return  # malformed: the caller's own decode says so
    where = nul_path(value)
    if where is not None:
        raise bad_request(f"Invalid request body: '{where}' {NUL_PROBLEM}")
