"""How deeply a JSON document may nest, checked on its bytes before anything decodes it.

msgspec decodes and encodes nested arrays and objects recursively, under Python's recursion
limit (1000), which it shares with the frames already on the stack: a document ~1000 levels
deep raises RecursionError, a 500 in a handler, a dead letter in the worker, a failed read once
stored. Where the error strikes depends on the stack depth of the caller, so something one
component accepted could still fail in the next (the worker decodes the raw log in another
stack, an API answer re-encodes stored JSON inside its own document). One fixed limit far below
that, applied wherever JSON enters, makes every later decode and re-encode safe.

128 levels: real documents stay far below it (an OTLP/JSON attribute value sits 9 levels deep
and each nested kvlist adds 4, so 128 matches what the protobuf path's own limit of 100 nested
messages allows; chat transcripts with tool schemas nest 10 to 20), and 128 plus any wrapping
leaves hundreds of frames to spare wherever the document is handled.
"""

from __future__ import annotations

import itertools
import operator

MAX_JSON_DEPTH = 128

# Everything but the bytes that open and close strings, arrays and objects.
_NOT_STRUCTURAL = bytes(c for c in range(256) if c not in b'"[]{}')
# An opening bracket as 2 and a closing one as 0: the running sum minus the count of brackets
# seen is the nesting depth.
_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


class JsonTooDeep(ValueError):
    def __init__(self, limit: int = MAX_JSON_DEPTH) -> None:
        super().__init__(f"JSON nested deeper than {limit} levels")
        self.limit = limit


def too_deep(data: bytes | bytearray | memoryview | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the document nests arrays and objects more than `limit` levels deep.

    Exact for valid JSON; for malformed JSON it never reports less than what a decoder would
    reach before it found the error. Brackets inside strings do not count.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    elif not isinstance(data, bytes):
        data = bytes(data)
    if data.count(b"[") + data.count(b"{") <= limit:
        return False  # most documents: too few brackets to nest that deep
    if b"\\" in data:
        # Inside a string an escaped backslash or quote must not end it; taking the pairs out
        # left to right is how JSON reads a run of backslashes. Other escapes hold no quote.
        if b"\\\\" in data:
            data = data.replace(b"\\\\", b"")
        data = data.replace(b'\\"', b"")
    structure = data.translate(None, _NOT_STRUCTURAL)
    if b'"' in structure:
        structure = b"".join(structure.split(b'"')[::2])  # drop what lies between quotes
    depths = map(operator.sub, itertools.accumulate(structure.translate(_STEPS)), itertools.count(1))
    return next(filter(limit.__lt__, depths), None) is not None


def check_depth(data: bytes | bytearray | memoryview | str, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise JsonTooDeep when the document nests more than `limit` levels."""
    if too_deep(data, limit):
        raise JsonTooDeep(limit)
