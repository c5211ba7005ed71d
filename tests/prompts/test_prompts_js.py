"""Prompts through the Langfuse JS SDK v5 (`langfuse.prompt.*`)."""

from __future__ import annotations

from pathlib import Path

from tests.harness import Harness, ProjectKeys
from tests.prompts.js_sdk import js_sdk, run_js  # noqa: F401

SCRIPT = """
await lf.prompt.create({ name: "js/text", prompt: "Hi {{who}}", labels: ["production"], config: { n: 1 } });
await lf.prompt.create({ name: "js/text", prompt: "Hello {{who}}" });
await lf.prompt.create({
  name: "js-chat",
  type: "chat",
  prompt: [{ role: "system", content: "Be {{tone}}" }, { type: "placeholder", name: "history" }],
  labels: ["production"],
});
const text = await lf.prompt.get("js/text", { cacheTtlSeconds: 0 });
const v2 = await lf.prompt.get("js/text", { version: 2, cacheTtlSeconds: 0 });
const chat = await lf.prompt.get("js-chat", { type: "chat", cacheTtlSeconds: 0 });
await lf.prompt.update({ name: "js/text", version: 2, newLabels: ["production"] });
const moved = await lf.prompt.get("js/text", { cacheTtlSeconds: 0 });
const fallback = await lf.prompt.get("js-missing", { fallback: "fb", maxRetries: 0, cacheTtlSeconds: 0 });
console.log(JSON.stringify({
  text: [text.version, text.compile({ who: "JS" }), text.config],
  v2: v2.prompt,
  chat: chat.compile({ tone: "calm" }, { history: [{ role: "user", content: "yo" }] }),
  moved: moved.version,
  fallback: [fallback.isFallback, fallback.prompt],
}));
"""


async def test_js_sdk_prompts(js_sdk: Path, spyglass: Harness, keys: ProjectKeys) -> None:  # noqa: F811
    got = await run_js(js_sdk, spyglass, keys, SCRIPT)
    assert got["text"] == [1, "Hi JS", {"n": 1}]
    assert got["v2"] == "Hello {{who}}"
    assert got["chat"] == [{"role": "system", "content": "Be calm"}, {"role": "user", "content": "yo"}]
    assert got["moved"] == 2
    assert got["fallback"] == [True, "fb"]
