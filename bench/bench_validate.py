"""Throughput of legacy ingestion validation on realistic batches, and of grouping + merging them.

    .venv/bin/python bench/bench_validate.py

A batch is what a py v2 app flushes: traces, spans and generations (1–2 KB of chat messages as
input/output), their updates and a score. Prints events/s for validation at 1, 4 and 16 traces a
batch, for generation-create events alone, and for group + merge.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from spyglass.collector.events import group_events, merge_observation, merge_trace, parse_ingestion_body

WORDS = "the quick brown fox jumps over a lazy dog while observability backends count tokens".split()


def _text(rng: random.Random, size: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < size:
        words.append(rng.choice(WORDS))
    return " ".join(words)


def _messages(rng: random.Random) -> list[dict[str, Any]]:
    size = rng.randint(1000, 2000)
    return [
        {"role": "system", "content": _text(rng, size // 3)},
        {"role": "user", "content": _text(rng, 2 * size // 3)},
    ]


def realistic_batch(rng: random.Random, traces: int = 4) -> list[dict[str, Any]]:
    batch: list[dict[str, Any]] = []
    n = 0

    def add(event_type: str, body: dict[str, Any]) -> None:
        nonlocal n
        n += 1
        batch.append(
            {
                "id": f"{rng.getrandbits(128):032x}",
                "type": event_type,
                "timestamp": f"2026-11-22T09:50:{n % 60:02d}.{n:06d}Z",
                "body": body,
            }
        )

    for t in range(traces):
        trace_id = f"{rng.getrandbits(128):032x}"
        add(
            "trace-create",
            {
                "id": trace_id,
                "name": f"request-{t}",
                "timestamp": "2026-11-22T09:50:00.000Z",
                "userId": "user-1",
                "sessionId": "s-1",
                "metadata": {"route": "/chat", "attempt": 1},
                "tags": ["prod"],
                "input": _messages(rng)[1],
            },
        )
        for s in range(3):
            span_id = f"{rng.getrandbits(64):016x}"
            add(
                "span-create",
                {
                    "id": span_id,
                    "traceId": trace_id,
                    "name": f"step-{s}",
                    "startTime": "2026-11-22T09:50:01.000Z",
                    "input": {"query": _text(rng, 300)},
                    "metadata": {"k": s},
                },
            )
            add("span-update", {"id": span_id, "traceId": trace_id, "endTime": "2026-11-22T09:50:02.000Z"})
        for g in range(2):
            gen_id = f"{rng.getrandbits(64):016x}"
            add(
                "generation-create",
                {
                    "id": gen_id,
                    "traceId": trace_id,
                    "name": f"llm-{g}",
                    "startTime": "2026-11-22T09:50:01.500Z",
                    "model": "gpt-4o-mini",
                    "modelParameters": {"temperature": "0.2", "max_tokens": 512},
                    "input": _messages(rng),
                    "promptName": "qa",
                    "promptVersion": 2,
                },
            )
            add(
                "generation-update",
                {
                    "id": gen_id,
                    "traceId": trace_id,
                    "endTime": "2026-11-22T09:50:03.000Z",
                    "output": {"role": "assistant", "content": _text(rng, 1200)},
                    "usage": {"input": 410, "output": 220, "unit": "TOKENS"},
                },
            )
        add("trace-create", {"id": trace_id, "output": {"answer": _text(rng, 800)}})
        add("score-create", {"traceId": trace_id, "name": "quality", "value": 0.8})
    return batch


def measure(seconds: float = 3.0, traces_per_batch: int = 4, only: str | None = None) -> tuple[float, float, int]:
    rng = random.Random(7)
    batches = [realistic_batch(rng, traces_per_batch) for _ in range(20)]
    if only is not None:
        batches = [[event for event in batch if event["type"] == only] for batch in batches]
    bodies = [json.dumps({"batch": batch}).encode() for batch in batches]
    events_per_body = len(json.loads(bodies[0])["batch"])
    avg_bytes = sum(map(len, bodies)) / len(bodies) / events_per_body
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for body in bodies:
            result = parse_ingestion_body(body)
            assert not result.errors
            done += len(result.events)
    elapsed = time.perf_counter() - start
    return done / elapsed, avg_bytes, events_per_body


def measure_merge(seconds: float = 2.0) -> float:
    rng = random.Random(11)
    batches = [parse_ingestion_body(json.dumps({"batch": realistic_batch(rng)}).encode()) for _ in range(20)]
    groups = [group_events(batch.events) for batch in batches]
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for grouped in groups:
            for (entity, _), events in grouped.items():
                if entity == "trace":
                    merge_trace(None, events, "p", 1.0)  # type: ignore[arg-type]
                elif entity == "observation":
                    merge_observation(None, events, "p", 1.0)  # type: ignore[arg-type]
                done += len(events)
    return done / (time.perf_counter() - start)


def main() -> None:
    for traces in (1, 4, 16):
        rate, size, per_batch = measure(traces_per_batch=traces)
        print(f"validate: {rate:,.0f} events/s ({per_batch} events/batch, {size:,.0f} B/event avg)")
    rate, size, per_batch = measure(traces_per_batch=8, only="generation-create")
    print(f"validate generation-create only: {rate:,.0f} events/s ({size:,.0f} B/event avg)")
    print(f"group + merge: {measure_merge():,.0f} events/s")


if __name__ == "__main__":
    main()
