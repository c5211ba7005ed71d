"""Row ids: cuid-like strings (Langfuse's format), ordered by creation time."""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 36)
        out.append(_ALPHABET[r])
    return "".join(reversed(out))


def new_id() -> str:
    """'c' + 8 chars of milliseconds + 16 random chars (~82 bits): 25 chars like a cuid.

    The time prefix keeps btree inserts near the right edge of the index, as cuids do.
    """
    ms = time.time_ns() // 1_000_000
    return "c" + _base36(ms, 8) + _base36(secrets.randbits(83), 16)
