"""Usage inferred from a generation's text when it reports none (upstream §5.3 tokenisation).

Langfuse's worker counts tokens when a model matched, no usage was provided and the level is
not ERROR, with the tokenizer its model definition names. `tokenizerId` "openai" means
tiktoken, with `tokenizerConfig.tokenizerModel` mapped to an encoding by tiktoken's model
table (gpt-4o → o200k_base, gpt-4 and gpt-3.5 → cl100k_base, ...); the definition's model name
plays no part, so a model defined with `tokenizerModel: "gpt-4"` counts with cl100k_base
whatever it is called. Only shipped encodings count (`encodings.py`); anything else, and every
other `tokenizerId` infers nothing: upstream's "claude" is Anthropic's Claude 2 tokenizer,
which miscounts Claude 3 and later, and Anthropic publishes none for those.

Counting follows upstream's `tokenCount`: a text that is JSON is decoded first. An array of
chat messages (each with a string `role` and `content`, and a string `name` if any) on a model
whose config gives `tokensPerMessage` and `tokensPerName` counts as OpenAI's chat format: per
message the overhead plus the tokens of its `content`, `role`, `name`, `tool_calls` and
`function_call` values (and `tokensPerName` for a `name`), plus 3 for the reply's priming. A
JSON string counts as its text; any other JSON value as its compact JSON text; a text that is
not JSON as itself. Special tokens in the text (`<|endoftext|>`) count as one token each.

Cost is bounded: the first `MAX_EXACT_CHARS` characters of each of input and output are
tokenized; past them, the count is extrapolated at the tokens per character seen so far, and
the result says it is an estimate. Counts of pieces seen lately are kept (`CountCache`): chat
inputs repeat their system prompt and history from call to call.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec
from tiktoken.model import encoding_name_for_model

from spyglass.collector.pricing.encodings import SHIPPED, encoding

OPENAI_TOKENIZER: Final = "openai"
# Longer texts are estimated: exact tokenizing is linear in the text and would make one huge
# input as slow as thousands of ordinary ones.
MAX_EXACT_CHARS: Final = 64 * 1024
# Message keys upstream counts (OpenAI's chat API names and the Langfuse SDKs' camelCase ones).
_MESSAGE_KEYS: Final = frozenset(
    {"content", "role", "name", "tool_calls", "function_call", "toolCalls", "functionCall"}
)
# Every reply is primed with <|start|>assistant<|message|>.
_REPLY_PRIMING: Final = 3

_decode = msgspec.json.decode
_encode = msgspec.json.encode


class Tokenizer(msgspec.Struct, frozen=True):
    """How a model's text is counted: a shipped encoding, plus the chat format's overheads
    when the model definition gives them (None: messages are counted as JSON text)."""

    encoding: str
    tokens_per_message: int | None = None
    tokens_per_name: int | None = None


class InferredUsage(msgspec.Struct, frozen=True, kw_only=True):
    usage: dict[str, int]  # input and/or output, and their total
    encoding: str
    estimated: bool  # a text was longer than MAX_EXACT_CHARS: its count is extrapolated

    def note(self) -> str:
        """What the observation's metadata says about where its usage came from."""
        return _note(self.encoding, self.estimated)


@functools.cache
def _note(encoding_name: str, estimated: bool) -> str:
    text = f"inferred from input/output text with tiktoken {encoding_name}"
    if estimated:
        text += f"; extrapolated past the first {MAX_EXACT_CHARS} characters"
    return text


def tokenizer_for(tokenizer_id: str | None, config: Mapping[str, Any] | None) -> Tokenizer | None:
    """The tokenizer a model definition asks for, if it is OpenAI's with a shipped encoding."""
    if tokenizer_id != OPENAI_TOKENIZER or not isinstance(config, Mapping):
        return None
    model = config.get("tokenizerModel")
    if not isinstance(model, str):
        return None
    return _resolve(model, _whole(config.get("tokensPerMessage")), _whole(config.get("tokensPerName")))


@functools.lru_cache(maxsize=1024)
def _resolve(model: str, per_message: int | None, per_name: int | None) -> Tokenizer | None:
    try:
        name = encoding_name_for_model(model)
    except KeyError:
        return None
    if name not in SHIPPED:
        return None
    if per_message is None or per_name is None:
        return Tokenizer(name)
    return Tokenizer(name, per_message, per_name)


def _whole(value: object) -> int | None:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return None


def infer_usage(tokenizer: Tokenizer, input_text: str | None, output_text: str | None) -> InferredUsage | None:
    """Token counts of a generation's input and output (keys `input`, `output`, `total`), or
    None when there is no text or the tokenizer's encoding cannot be loaded."""
    if not input_text and not output_text:
        return None
    enc = encoding(tokenizer.encoding)
    if enc is None:
        return None
    usage: dict[str, int] = {}
    estimated = False
    for key, text in (("input", input_text), ("output", output_text)):
        if text:
            counter = _Counter(tokenizer.encoding, enc.encode, enc.special_tokens_set)
            usage[key] = max(_count_io(tokenizer, text, counter), 0)
            estimated = estimated or counter.estimated
    usage["total"] = sum(usage.values())
    return InferredUsage(usage=usage, encoding=tokenizer.encoding, estimated=estimated)


class _Counter:
    """Counts the pieces of one text, tokenizing at most MAX_EXACT_CHARS characters in all."""

    __slots__ = ("_encode", "_encoding", "_special", "chars", "estimated", "left", "tokens")

    def __init__(self, encoding_name: str, encode: Callable[..., list[int]], special: set[str]) -> None:
        self._encoding = encoding_name
        self._encode = encode
        self._special = special
        self.left = MAX_EXACT_CHARS
        self.chars = 0
        self.tokens = 0
        self.estimated = False

    def __call__(self, text: str) -> int:
        size = len(text)
        if size == 0:
            return 0
        if self.left <= 0:
            self.estimated = True
            return round(size * self.tokens / self.chars)
        if size <= self.left:
            piece = text
            tokens = _COUNTS.count(self._encoding, piece, self._tokens)
        else:
            piece = text[: self.left]
            tokens = self._tokens(piece)
        self.left -= len(piece)
        self.chars += len(piece)
        self.tokens += tokens
        if len(piece) == size:
            return tokens
        self.estimated = True
        return round(tokens * size / len(piece))

    def _tokens(self, text: str) -> int:
        return len(self._encode(text, allowed_special=self._special))


class CountCache:
    """Token counts of texts seen lately, per process. Most of a chat input repeats: the system
    prompt and few-shot examples of every call, the history that each turn sends again, the
    input that a legacy update merges back in. Keyed by length and hash, so it holds no text;
    a collision (the hash is 64-bit and seeded per process) would only miscount one piece."""

    # Shorter pieces (roles, names) cost about as much to look up as to tokenize.
    SHORTEST: Final = 64
    ENTRIES: Final = 16_384

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int, int], int] = {}
        self._lock = threading.Lock()  # a mapping thread and the worker may count at once

    def count(self, encoding_name: str, text: str, tokens: Callable[[str], int]) -> int:
        if len(text) < self.SHORTEST:
            return tokens(text)
        key = (encoding_name, len(text), hash(text))
        found = self._counts.get(key)
        if found is not None:
            return found
        counted = tokens(text)
        with self._lock:
            counts = self._counts
            if len(counts) >= self.ENTRIES:
                del counts[next(iter(counts))]  # the oldest entry: insertion order
            counts[key] = counted
        return counted

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


_COUNTS = CountCache()


def _count_io(tokenizer: Tokenizer, text: str, count: _Counter) -> int:
    head = text[:1]
    if head.isspace():
        head = text.lstrip()[:1]
    if head not in ("[", "{", '"'):
        return count(text)  # plain text; numbers and literals read back as the same text anyway
    try:
        value = _decode(text)
    except (msgspec.DecodeError, RecursionError):
        return count(text)
    if type(value) is str:
        return count(value)
    if tokenizer.tokens_per_message is not None and tokenizer.tokens_per_name is not None:
        messages = _chat_messages(value)
        if messages is not None:
            return _count_chat(messages, tokenizer.tokens_per_message, tokenizer.tokens_per_name, count)
    return count(_encode(value).decode())


def _chat_messages(value: Any) -> list[dict[str, Any]] | None:
    if type(value) is not list or not value:
        return None
    for message in value:
        if type(message) is not dict:
            return None
        if type(message.get("role")) is not str or type(message.get("content")) is not str:
            return None
        if "name" in message and type(message["name"]) is not str:
            return None
    return value


def _count_chat(messages: list[dict[str, Any]], per_message: int, per_name: int, count: _Counter) -> int:
    total = _REPLY_PRIMING
    for message in messages:
        total += per_message
        for key, value in message.items():
            if value and key in _MESSAGE_KEYS:
                total += count(value if type(value) is str else _encode(value).decode())
            if key == "name":
                total += per_name
    return total
