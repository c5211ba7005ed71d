"""PostgreSQL text and jsonb cannot hold NUL (U+0000): where request data is checked for it.

A NUL in a `text` parameter fails the statement ("invalid byte sequence for encoding UTF8:
0x00"), and so does `\\u0000` inside a jsonb string ("unsupported Unicode escape sequence").
Values bound for PostgreSQL are checked before the write so the client gets a 400 naming the
field; lookups by a value with a NUL skip the query, since no stored row can match it.
"""

from __future__ import annotations

from typing import Any

NUL = "\x00"
NUL_PROBLEM = "must not contain a NUL character (\\u0000): PostgreSQL cannot store it"
# How a NUL appears in JSON text (JSON allows no raw control characters in strings).
_ESCAPED_NUL = b"\\u0000"


def has_nul(value: str | None) -> bool:
    return value is not None and NUL in value


def json_may_hold_nul(raw: bytes | bytearray | memoryview) -> bool:
    """False when JSON text cannot decode to a string holding NUL (a fast memory scan); True
    means it may (an escaped backslash before `u0000` also matches), so walk the decoded value."""
    return _ESCAPED_NUL in raw


def nul_path(value: Any, path: str = "") -> str | None:
    """Where the first string (or object key) holding a NUL sits in a decoded JSON value, as
    `config.a[2]` (`path` is the prefix); None when there is none."""
    if isinstance(value, str):
        return (path or "value") if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            shown = str(key).replace(NUL, "\\u0000")
            where = f"{path}.{shown}" if path else shown
            if isinstance(key, str) and NUL in key:
                return where
            found = nul_path(item, where)
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None
