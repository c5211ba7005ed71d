"""The byte budget: bodies in flight at once are bounded by bytes, received and inflated, across
every receiver; past it a 429 (gRPC: UNAVAILABLE with RetryInfo) before the body is read, and
the budget comes back on every path (accepted, refused, failed, disconnected, cancelled).

The Spyglass here has a 4 MiB budget; clients trickle their bodies so that they are in flight
together, as slow clients on a real network are.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import gzip
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import msgspec
import pytest
from aiohttp import web
from google.rpc import error_details_pb2, status_pb2

from spyglass.collector.budget import ByteBudget
from spyglass.collector.http import INTAKE
from spyglass.store.clickhouse.client import ClickHouse
from tests.harness import Harness, ProjectKeys
from tests.ingest.test_otlp_protocol import _ids, _request, _span, grpc_export

MiB = 1024 * 1024
BUDGET = 4 * MiB
PB = "application/x-protobuf"


@pytest.fixture(scope="module")
async def budgeted(session_dir: Path, ch_url: str, ch: ClickHouse) -> AsyncIterator[Harness]:
    harness = Harness.configure(
        session_dir / "budget", ch_url, SPYGLASS_COLLECTOR__MAX_BODY_BYTES_IN_FLIGHT=str(BUDGET)
    )
    await harness.start()
    yield harness
    await harness.stop()


def budget_of(h: Harness) -> ByteBudget:
    assert h.app is not None
    return h.app[INTAKE].budget


async def until_released(h: Harness, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while budget_of(h).used:
        assert time.monotonic() < deadline, f"{budget_of(h).used} bytes still held"
        await asyncio.sleep(0.02)


class Answer(msgspec.Struct):
    status: int
    headers: dict[str, str]
    body: bytes


async def _read_answer(reader: asyncio.StreamReader) -> Answer:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Answer(status, headers, body)


async def slow_post(
    h: Harness,
    path: str,
    body: bytes,
    headers: dict[str, str],
    *,
    seconds: float = 1.0,
    hang_up_after: int | None = None,
) -> Answer | None:
    """POST `body` over `seconds`, in pieces, reading the answer while sending (a refusal comes
    before the body is sent). `hang_up_after`: close the connection after that many bytes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", h.settings.api.port)
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    answer = asyncio.ensure_future(_read_answer(reader))
    pieces = 25
    step = -(-len(body) // pieces)
    try:
        for start in range(0, len(body), step):
            if answer.done() or (hang_up_after is not None and start >= hang_up_after):
                break
            writer.write(body[start : start + step])
            await writer.drain()
            await asyncio.sleep(seconds / pieces)
        if hang_up_after is not None:
            answer.cancel()
            return None
        return await asyncio.wait_for(answer, 30)
    except (ConnectionError, asyncio.IncompleteReadError):
        if answer.done() and not answer.cancelled() and answer.exception() is None:
            return answer.result()
        raise
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _padded(name: str, size: int) -> tuple[bytes, str]:
    """One valid span in a body of about `size` bytes, and its span id."""
    trace_id, (span_id,) = _ids(1)
    return _request(_span(trace_id, span_id, name, **{"input.value": "x" * size})), span_id.hex()


async def _stored(h: Harness, keys: ProjectKeys) -> set[str]:
    rows = await h.stores.ch.rows(
        "SELECT DISTINCT id FROM observations WHERE project_id = {p:String}", {"p": keys.project_id}
    )
    return {r["id"] for r in rows}


async def test_concurrent_slow_bodies_past_the_budget_are_refused_with_retry_after(budgeted: Harness) -> None:
    keys = await budgeted.new_project()
    headers = {**keys.headers, "Content-Type": PB}
    # Eight bodies of 1.5 MiB at once: two fit in 4 MiB, the others must wait their turn.
    bodies = [_padded(f"slow-{i}", int(1.5 * MiB)) for i in range(8)]
    answers = await asyncio.gather(*(slow_post(budgeted, "/v1/traces", b, headers) for b, _ in bodies))
    statuses = [a.status for a in answers if a is not None]
    assert len(statuses) == 8 and set(statuses) <= {200, 429}, statuses
    assert 1 <= statuses.count(200) <= 2 and statuses.count(429) >= 6, statuses
    for answer in answers:
        assert answer is not None
        if answer.status == 429:
            assert int(answer.headers["retry-after"]) >= 1
            assert "too many request bodies in flight" in status_pb2.Status.FromString(answer.body).message
    await until_released(budgeted)
    await budgeted.wait_idle()
    accepted = {span for (_, span), a in zip(bodies, answers, strict=True) if a is not None and a.status == 200}
    assert await _stored(budgeted, keys) == accepted
    # The refused ones, sent again one after another, all get in.
    for body, span in bodies:
        if span not in accepted:
            again = await slow_post(budgeted, "/v1/traces", body, headers, seconds=0.1)
            assert again is not None and again.status == 200, again
    await budgeted.wait_idle()
    assert await _stored(budgeted, keys) == {span for _, span in bodies}
    assert budget_of(budgeted).used == 0


async def test_inflated_bytes_count_too(budgeted: Harness) -> None:
    keys = await budgeted.new_project()
    headers = {**keys.headers, "Content-Type": PB}
    holder, _ = _padded("holder", 2 * MiB)
    # 30 KB on the wire, 3 MiB once inflated: does not fit beside the 2 MiB being received.
    bomb, bomb_span = _padded("inflates", 3 * MiB)
    packed = gzip.compress(bomb)
    assert len(packed) < 100_000
    gz = {**headers, "Content-Encoding": "gzip"}
    held = asyncio.ensure_future(slow_post(budgeted, "/v1/traces", holder, headers, seconds=2.0))
    while budget_of(budgeted).used < 2 * MiB:
        await asyncio.sleep(0.01)
    refused = await slow_post(budgeted, "/v1/traces", packed, gz, seconds=0.01)
    assert refused is not None and refused.status == 429 and refused.headers["retry-after"]
    # The same through the Langfuse ingestion API, which inflates as the body arrives.
    event = {"id": "e1", "timestamp": "2026-01-01T00:00:00Z", "type": "trace-create", "body": {"id": "t1"}}
    ingestion = gzip.compress(msgspec.json.encode({"batch": [{**event, "body": {"id": "t1", "input": "y" * 3 * MiB}}]}))
    refused = await slow_post(
        budgeted,
        "/api/public/ingestion",
        ingestion,
        {**keys.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
        seconds=0.01,
    )
    assert refused is not None and refused.status == 429, refused
    assert msgspec.json.decode(refused.body)["error"] == "TooManyRequestsError"
    held_answer = await held
    assert held_answer is not None and held_answer.status == 200
    await until_released(budgeted)
    accepted = await slow_post(budgeted, "/v1/traces", packed, gz, seconds=0.01)
    assert accepted is not None and accepted.status == 200
    await budgeted.wait_idle()
    assert bomb_span in await _stored(budgeted, keys)


async def test_a_body_larger_than_the_budget_is_served_alone(budgeted: Harness) -> None:
    keys = await budgeted.new_project()
    body, span = _padded("alone", 6 * MiB)  # over the 4 MiB budget, under the 20 MiB body limit
    answer = await slow_post(budgeted, "/v1/traces", body, {**keys.headers, "Content-Type": PB}, seconds=0.2)
    assert answer is not None and answer.status == 200
    await budgeted.wait_idle()
    assert span in await _stored(budgeted, keys)
    assert budget_of(budgeted).used == 0


async def test_the_budget_comes_back_on_every_path(budgeted: Harness) -> None:
    keys = await budgeted.new_project()
    headers = {**keys.headers, "Content-Type": PB}
    gz = {**headers, "Content-Encoding": "gzip"}
    limit = budgeted.settings.collector.max_body_bytes
    big, _ = _padded("x", 3 * MiB)
    failing: list[tuple[str, bytes, dict[str, str], int]] = [
        ("/v1/traces", b"\x0a\xff\xff\xff\xff\x0f garbage" * 1000, headers, 400),  # not protobuf
        ("/v1/traces", b"\x1f\x8b not gzip" * 1000, gz, 400),  # corrupt gzip
        ("/v1/traces", gzip.compress(b"\0" * (limit + 1)), gz, 413),  # inflates past the limit
        ("/v1/traces", gzip.compress(big)[:-100], gz, 400),  # truncated gzip
        ("/api/public/ingestion", b"{not json" * 1000, {**keys.headers, "Content-Type": "application/json"}, 400),
        (
            "/api/public/ingestion",
            gzip.compress(b"\0" * (limit + 1)),
            {**keys.headers, "Content-Encoding": "gzip"},
            413,
        ),
        # A route that reads its body itself (the middleware inflates it first).
        ("/api/public/v2/datasets", gzip.compress(b"{" * 1000), {**keys.headers, "Content-Encoding": "gzip"}, 400),
    ]
    for path, body, hdrs, status in failing:
        answer = await slow_post(budgeted, path, body, hdrs, seconds=0.05)
        assert answer is not None and answer.status == status, (path, answer)
        await until_released(budgeted)
    # A client that hangs up halfway through its body.
    assert await slow_post(budgeted, "/v1/traces", big, headers, hang_up_after=MiB) is None
    await until_released(budgeted)
    assert await slow_post(budgeted, "/api/public/ingestion", big, keys.headers, hang_up_after=MiB) is None
    await until_released(budgeted)
    # Over gRPC: a message past the size limit, and one that is not protobuf.
    import grpc

    async with grpc_export(budgeted.grpc_target) as export:
        metadata = (("authorization", keys.auth_header),)
        for message, code in (
            (_padded("huge", limit + MiB)[0], grpc.StatusCode.RESOURCE_EXHAUSTED),
            (b"\x0a\xff\xff\xff\xff\x0f garbage", grpc.StatusCode.INVALID_ARGUMENT),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await export(message, metadata=metadata)
            assert info.value.code() == code
            await until_released(budgeted)
    # And afterwards the whole budget is there again.
    body, span = _padded("after", 3 * MiB)
    answer = await slow_post(budgeted, "/v1/traces", body, headers, seconds=0.1)
    assert answer is not None and answer.status == 200
    await budgeted.wait_idle()
    assert span in await _stored(budgeted, keys)


async def test_grpc_waits_for_room_then_is_unavailable_with_retry_info(budgeted: Harness) -> None:
    import grpc

    keys = await budgeted.new_project()
    metadata = (("authorization", keys.auth_header),)
    holder, _ = _padded("holder", 3 * MiB)
    trace_id, (span,) = _ids(1)
    request = _request(_span(trace_id, span, "over-grpc"))
    held = asyncio.ensure_future(
        slow_post(budgeted, "/v1/traces", holder, {**keys.headers, "Content-Type": PB}, seconds=6.0)
    )
    while not budget_of(budgeted).used:
        await asyncio.sleep(0.01)
    async with grpc_export(budgeted.grpc_target) as export:
        # Room for the largest message is taken before it is read: not while 3 MiB are held.
        began = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await export(request, metadata=metadata)
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert time.monotonic() - began >= budgeted.settings.collector.retry_after_seconds - 0.2
        trailers = dict(info.value.trailing_metadata() or ())
        status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
        retry = error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(retry) and retry.retry_delay.seconds >= 1
        # A client that gives up while waiting (cancelled) leaves nothing behind.
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await export(request, metadata=metadata, timeout=0.3)
        assert info.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        held_answer = await held
        assert held_answer is not None and held_answer.status == 200
        await until_released(budgeted)
        await export(request, metadata=metadata)
    assert budget_of(budgeted).used == 0
    await budgeted.wait_idle()
    assert span.hex() in await _stored(budgeted, keys)


async def test_an_idle_keep_alive_connection_keeps_no_body(budgeted: Harness) -> None:
    """aiohttp keeps a connection's last request referenced until the next one arrives; the body
    must not be kept with it (40 idle connections held 800 MB of 19 MiB bodies)."""
    keys = await budgeted.new_project()
    body, _ = _padded("kept?", 2 * MiB)
    dataset = msgspec.json.encode({"name": f"budget-{time.time_ns()}", "description": "d" * MiB})
    async with aiohttp.ClientSession() as http:
        for path, data, ctype in (("/v1/traces", body, PB), ("/api/public/v2/datasets", dataset, "application/json")):
            async with http.post(
                f"{budgeted.url}{path}", data=data, headers={**keys.headers, "Content-Type": ctype}
            ) as r:
                assert r.status == 200, await r.text()
        gc.collect()
        requests = [o for o in gc.get_objects() if isinstance(o, web.BaseRequest)]
        assert requests  # the connection is still open, its last request still referenced
        assert all(r._read_bytes is None for r in requests)
