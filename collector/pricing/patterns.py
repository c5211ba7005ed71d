"""User-supplied match patterns, compiled with RE2, so matching is linear in the input.

Model definitions and pricing tiers come from any project and are matched against every
generation's model name and usage keys. Python's backtracking `re` would let one pattern such
as `(a+)+$` hold the event loop or a mapping process for seconds per generation, for every
tenant. RE2 has no backreferences or lookaround, and what it cannot compile is refused when the
definition is created.
"""

from __future__ import annotations

from typing import Protocol

import re2

# Per compiled pattern; RE2 fails to compile (rather than grow) a pattern needing more.
_MAX_MEM = 8 << 20


class PatternError(ValueError):
    """The pattern is not valid RE2 syntax; the message says why."""


class Pattern(Protocol):
    def search(self, text: str) -> object | None: ...


def compile_pattern(pattern: str, *, ignore_case: bool = False) -> Pattern:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = _MAX_MEM
    options.case_sensitive = not ignore_case
    try:
        compiled: Pattern = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        raise PatternError(reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)) from None
    return compiled
