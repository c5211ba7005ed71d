"""Failed authentications are throttled on every endpoint that authenticates: reads, prompts,
OTLP/HTTP, the ingestion API and OTLP/gRPC share one authenticator and one set of counters.

Clients connect from different loopback addresses (127.0.0.2, 127.0.0.3, ...) to the server on
127.0.0.1, so each is a client address of its own. PostgreSQL lookups are counted by the key
store (`ApiKeys.lookups`).
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import msgspec
import pytest
from google.rpc import error_details_pb2, status_pb2

from spyglass.store.clickhouse.client import ClickHouse
from tests.harness import Harness
from tests.ingest.test_otlp_protocol import _ids, _request, _span, grpc_export

# 20 failures, then one more every 2 s: long enough that a loaded machine does not leak an
# attempt between a flood and the request the test expects to be refused (the default 10 s
# window leaks one every half second, and did).
WINDOW = 40.0
FAILURES = 20


@pytest.fixture(scope="module")
async def guarded(session_dir: Path, ch_url: str, ch: ClickHouse) -> AsyncIterator[Harness]:
    """A Spyglass of its own: the flooded addresses and keys stay throttled for a while."""
    harness = Harness.configure(
        session_dir / "auth-throttle", ch_url, SPYGLASS_COLLECTOR__AUTH_FAILURE_WINDOW_SECONDS=str(WINDOW)
    )
    await harness.start()
    yield harness
    await harness.stop()


def basic(public_key: str, secret_key: str) -> dict[str, str]:
    token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def session_from(address: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0), force_close=True))


async def flood(h: Harness, http: aiohttp.ClientSession, public_key: str, n: int) -> list[aiohttp.ClientResponse]:
    """`n` wrong secrets, each different, spread over the endpoints that authenticate."""
    trace_id, (span,) = _ids(1)
    otlp = _request(_span(trace_id, span, "flood"))
    answers = []
    for i in range(n):
        auth = basic(public_key, f"sk-lf-wrong-{i}-{time.time_ns()}")
        match i % 4:
            case 0:
                call = http.get(f"{h.url}/api/public/traces", headers=auth)
            case 1:
                call = http.get(f"{h.url}/api/public/v2/prompts", headers=auth)
            case 2:
                headers = {**auth, "Content-Type": "application/x-protobuf"}
                call = http.post(f"{h.url}/api/public/otel/v1/traces", data=otlp, headers=headers)
            case _:
                call = http.post(f"{h.url}/api/public/ingestion", json={"batch": []}, headers=auth)
        async with call as r:
            await r.read()
            answers.append(r)
    return answers


async def test_a_flood_of_wrong_secrets_is_throttled_on_every_endpoint(guarded: Harness) -> None:
    target = await guarded.new_project()
    other = await guarded.new_project()
    unused = await guarded.new_project()
    keys = guarded.stores.api_keys
    before = keys.lookups
    began = time.monotonic()
    async with session_from("127.0.0.2") as attacker:
        answers = await flood(guarded, attacker, target.public_key, 400)
        took = time.monotonic() - began
        statuses = [r.status for r in answers]
        assert set(statuses[:FAILURES]) == {401}
        assert statuses[FAILURES:].count(429) >= 400 - FAILURES - (took / WINDOW + 1) * FAILURES
        assert set(statuses) == {401, 429}
        # PostgreSQL saw the first 20 and what leaked at 20 per window since, not 400.
        assert keys.lookups - before <= FAILURES * (1 + took / WINDOW) + 1
        for r in answers:
            if r.status == 429:
                assert int(r.headers["Retry-After"]) >= 1
        read_429 = next(r for r in answers[FAILURES:] if r.status == 429 and r.url.path == "/api/public/traces")
        assert read_429.content_type == "application/json"
        # Another key from another address is served all along.
        async with session_from("127.0.0.3") as bystander:
            async with bystander.get(f"{guarded.url}/api/public/traces", headers=other.headers) as r:
                assert r.status == 200
        # A key already in use (cached) is answered without a lookup, from any address.
        async with attacker.get(f"{guarded.url}/api/public/traces", headers=other.headers) as r:
            assert r.status == 200
        # A correct key not yet used: refused from the throttled address (it would need a
        # lookup)... The bucket leaks one attempt every half second: fill it again first.
        await flood(guarded, attacker, target.public_key, 4)
        async with attacker.get(f"{guarded.url}/api/public/traces", headers=unused.headers) as r:
            assert r.status == 429
            body = msgspec.json.decode(await r.read())
            assert body["error"] == "TooManyRequestsError"
            assert "Too many failed authentication attempts from this client address" in body["message"]
            wait = int(r.headers["Retry-After"])
        # ...until the bucket has leaked enough for one more attempt.
        await asyncio.sleep(wait)
        async with attacker.get(f"{guarded.url}/api/public/traces", headers=unused.headers) as r:
            assert r.status == 200


async def test_x_forwarded_for_is_not_trusted_by_default(guarded: Harness) -> None:
    target = await guarded.new_project()
    async with session_from("127.0.0.4") as attacker:
        statuses = []
        for i in range(FAILURES + 10):
            headers = {**basic(f"pk-lf-unknown-{i}", "sk"), "X-Forwarded-For": f"198.51.100.{i}"}
            async with attacker.get(f"{guarded.url}/api/public/traces", headers=headers) as r:
                statuses.append(r.status)
        assert statuses[-1] == 429  # one address, whatever the header claims
        async with attacker.get(f"{guarded.url}/api/public/traces", headers=target.headers) as r:
            assert r.status == 429


async def test_grpc_is_throttled_too(guarded: Harness) -> None:
    import grpc

    target = await guarded.new_project()
    trace_id, (span,) = _ids(1)
    request = _request(_span(trace_id, span, "grpc-flood"))
    before = guarded.stores.api_keys.lookups
    codes = []
    async with grpc_export(guarded.grpc_target) as export:
        for i in range(FAILURES + 20):
            wrong = basic(target.public_key, f"sk-lf-wrong-{i}")["Authorization"]
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await export(request, metadata=(("authorization", wrong),))
            codes.append(info.value.code())
    assert codes[:FAILURES] == [grpc.StatusCode.UNAUTHENTICATED] * FAILURES
    assert codes[-1] == grpc.StatusCode.UNAVAILABLE
    assert guarded.stores.api_keys.lookups - before < FAILURES + 10
    trailers = dict(info.value.trailing_metadata() or ())
    status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
    retry = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(retry) and retry.retry_delay.seconds >= 1
    assert "Too many failed authentication attempts" in status.message
