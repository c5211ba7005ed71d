"""Key rules shared by every backend, so a layout that works on S3 also works in a directory.

A key is `/`-separated segments, each 1-255 UTF-8 bytes (a file name's limit), 1024 bytes in all
(S3's limit, store prefix included); no leading, trailing or doubled `/`, no `.` or `..` segment,
no backslash, and no control character (NUL included).
"""

from __future__ import annotations

import re

from .errors import InvalidBlobKey

MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 255
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\\]")


def key_problem(key: object) -> str | None:
    """Why `key` is not a valid key, or None when it is."""
    if not isinstance(key, str):
        return "not a string"
    if not key:
        return "empty"
    if _FORBIDDEN.search(key):
        return "contains a control character or backslash"
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid UTF-8 (lone surrogate)"
    if len(encoded) > MAX_KEY_BYTES:
        return f"longer than {MAX_KEY_BYTES} bytes"
    if key.startswith("/"):
        return "absolute (starts with '/')"
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            return "has an empty, '.' or '..' segment"
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            return f"has a segment longer than {MAX_SEGMENT_BYTES} bytes"
    return None


def check_key(component: str, key: str) -> str:
    """Return `key` unchanged, or raise InvalidBlobKey."""
    problem = key_problem(key)
    if problem is not None:
        raise InvalidBlobKey(component, key, problem)
    return key


def check_prefix(component: str, prefix: str) -> str:
    """A listing (or store) prefix: empty, or something a valid key can start with."""
    if prefix and key_problem(prefix + "x") is not None:
        raise InvalidBlobKey(component, prefix, f"not a usable prefix: {key_problem(prefix + 'x')}")
    return prefix
