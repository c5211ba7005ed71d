"""Inflating gzip/deflate bodies with a hard cap on the output.

Used at accept time (the receivers check every body before it is persisted) and again in the
mapping processes, which read gzip payloads from the raw log: a body that inflates past the cap
stops after cap + 1 bytes of output, so a zip bomb costs one capped buffer, never the process.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

try:
    # zlib-ng inflates the same streams markedly faster, and every gzip body is inflated twice
    # (accept check, mapping process).
    from zlib_ng import zlib_ng as zlib
except ImportError:  # pragma: no cover - the wheel is a dependency; stdlib zlib is the fallback
    import zlib  # type: ignore[no-redef]

# Content codings we inflate ourselves. `x-gzip` is the same coding (RFC 9110 §8.4.1.3).
INFLATABLE = frozenset({"gzip", "x-gzip", "deflate"})


class InflateError(Exception):
    """The body is not valid data in its declared coding (corrupt or truncated)."""


class InflatedTooLarge(InflateError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"decompresses to more than {limit} bytes")
        self.limit = limit


# Input is fed to zlib in slices, and output taken in steps: a step that stops at its size
# leaves the rest of its input in `unconsumed_tail`, a copy, so a slice bounds that copy's cost.
_IN_STEP = 256 * 1024
_OUT_STEP = 1024 * 1024


class Inflater:
    """Incremental `inflate`: feed the body as it arrives, then `finish`. The compressed bytes
    need not be held whole, and `on_output` sees each step of output (at most 1 MiB) as it is
    produced, so a caller can count it, or refuse it by raising, before the next one exists."""

    def __init__(self, encoding: str, limit: int, on_output: Callable[[int], None] | None = None) -> None:
        if encoding in ("gzip", "x-gzip"):
            self._wbits: int | None = 16 + zlib.MAX_WBITS
        elif encoding == "deflate":
            self._wbits = None  # zlib-wrapped or raw: the first byte tells
        else:
            raise ValueError(f"cannot inflate {encoding!r}")
        # gzip may hold several members (as `gzip.decompress` accepts); deflate has one stream,
        # and trailing bytes are ignored, as zlib.decompress does.
        self._members = self._wbits is not None
        self._limit = limit
        self._on_output = on_output
        self._d: Any = None  # the current stream's decompressobj, None between streams
        self._ended = False
        # Written in place rather than joined at the end, which would hold the output twice.
        self._out = io.BytesIO()
        self.size = 0

    def feed(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        for start in range(0, len(view), _IN_STEP):
            self._feed(view[start : start + _IN_STEP])

    def _feed(self, piece: bytes | memoryview) -> None:
        more = bool(piece)
        while more and not self._ended:
            if self._d is None:
                if self._wbits is None:
                    self._wbits = zlib.MAX_WBITS if piece[0] & 0x0F == 8 else -zlib.MAX_WBITS
                self._d = zlib.decompressobj(self._wbits)
            # What is left under the cap, plus one byte to tell "exactly at the cap" from "over it".
            want = min(_OUT_STEP, self._limit + 1 - self.size)
            try:
                out = self._d.decompress(piece, want)
            # zlib_ng.pyi declares `error: Exception` (an instance); at run time it is the exception class.
            except zlib.error as exc:  # type: ignore[misc]
                raise InflateError(str(exc)) from None
            self._take(out)
            if self._d.eof:
                piece = self._d.unused_data
                self._d = None
                self._ended = not self._members
                more = bool(piece)
            else:
                piece = self._d.unconsumed_tail
                # A full step may leave output pending inside zlib with no input left.
                more = bool(piece) or len(out) == want

    def _take(self, out: bytes) -> None:
        if not out:
            return
        self.size += len(out)
        if self.size > self._limit:
            raise InflatedTooLarge(self._limit)
        if self._on_output is not None:
            self._on_output(len(out))
        self._out.write(out)

    def finish(self) -> bytes:
        """The inflated body; raises InflateError if the last stream is cut short."""
        if self._d is not None:
            raise InflateError("truncated stream")
        with self._out:
            return self._out.getvalue()  # the buffer itself, not a copy


def inflate(data: bytes, encoding: str, limit: int, on_output: Callable[[int], None] | None = None) -> bytes:
    """`data` decoded from `encoding` (gzip, x-gzip or deflate), at most `limit` bytes.

    Zlib releases the GIL while inflating, so callers run this in a thread to keep their event
    loop free. `on_output` as for `Inflater`.
    """
    inflater = Inflater(encoding, limit, on_output)
    inflater.feed(data)
    return inflater.finish()
