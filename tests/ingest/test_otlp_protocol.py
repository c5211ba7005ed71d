"""OTLP/HTTP and OTLP/gRPC as the spec and real exporters expect, including bad input."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import msgspec
import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from spyglass.collector.config import CollectorConfig
from spyglass.collector.http import INTAKE
from spyglass.collector.intake import Intake
from tests.harness import Harness, ProjectKeys

PB = "application/x-protobuf"


def _span(trace_id: bytes, span_id: bytes, name: str, parent: bytes = b"", **attrs: Any) -> trace_pb2.Span:
    now = time.time_ns()
    span = trace_pb2.Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        start_time_unix_nano=now - 2_000_000,
        end_time_unix_nano=now,
    )
    for k, v in attrs.items():
        value = common_pb2.AnyValue(int_value=v) if isinstance(v, int) else common_pb2.AnyValue(string_value=str(v))
        span.attributes.append(common_pb2.KeyValue(key=k, value=value))
    return span


def _request(*spans: trace_pb2.Span) -> bytes:
    req = trace_service_pb2.ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.append(common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value="t")))
    rs.scope_spans.add().spans.extend(spans)
    return req.SerializeToString()


def _ids(n: int) -> tuple[bytes, list[bytes]]:
    base = time.time_ns().to_bytes(8, "big")
    return base + b"\x01" * 8, [base[:4] + i.to_bytes(4, "big") for i in range(1, n + 1)]


async def _post(h: Harness, keys: ProjectKeys, body: bytes, ctype: str = PB, **headers: str) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        resp = await http.post(
            f"{h.url}/v1/traces", data=body, headers={**keys.headers, "Content-Type": ctype, **headers}
        )
        await resp.read()
        return resp


@contextlib.asynccontextmanager
async def grpc_export(target: str) -> AsyncIterator[Callable[..., Awaitable[bytes]]]:
    """TraceService/Export on a raw-bytes channel (bodies go out exactly as given)."""
    import grpc

    channel = grpc.aio.insecure_channel(target)
    try:
        yield channel.unary_unary(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
    finally:
        await channel.close()


async def _names(h: Harness, pid: str, trace_hex: str) -> list[str]:
    rows = await h.stores.ch.rows(
        "SELECT name FROM observations WHERE project_id = {p:String} AND trace_id = {t:String} "
        "ORDER BY event_ts DESC LIMIT 1 BY id",
        {"p": pid, "t": trace_hex},
    )
    return sorted(r["name"] for r in rows)


async def test_one_bad_span_is_rejected_the_rest_stored(stack: Harness) -> None:
    keys = await stack.new_project()
    trace_id, (a, b) = _ids(2)
    bad = _span(b"\x00" * 16, b"\x05" * 8, "bad-trace-id")
    body = _request(_span(trace_id, a, "good-1"), bad, _span(trace_id, b, "good-2", parent=a))
    resp = await _post(stack, keys, body)
    assert resp.status == 200 and resp.content_type == PB
    out = trace_service_pb2.ExportTraceServiceResponse.FromString(await resp.read())
    assert out.partial_success.rejected_spans == 1
    assert "trace" in out.partial_success.error_message.lower()
    await stack.wait_idle()
    assert await _names(stack, keys.project_id, trace_id.hex()) == ["good-1", "good-2"]


async def test_gzip_and_deflate_bodies(stack: Harness) -> None:
    import zlib

    keys = await stack.new_project()
    trace_id, (a, b) = _ids(2)
    r1 = await _post(stack, keys, gzip.compress(_request(_span(trace_id, a, "gz"))), **{"Content-Encoding": "gzip"})
    r2 = await _post(stack, keys, zlib.compress(_request(_span(trace_id, b, "df"))), **{"Content-Encoding": "deflate"})
    assert (r1.status, r2.status) == (200, 200)
    await stack.wait_idle()
    assert await _names(stack, keys.project_id, trace_id.hex()) == ["df", "gz"]


async def test_otlp_json_body_mirrors_content_type(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    trace_hex = f"{time.time_ns():032x}"
    now = time.time_ns()
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "js"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "langfuse-sdk", "version": "5.11.1"},
                        "spans": [
                            {
                                "traceId": trace_hex,
                                "spanId": "00000000000000aa",
                                "name": "from-json",
                                "kind": 1,
                                "startTimeUnixNano": str(now - 1000),
                                "endTimeUnixNano": str(now),
                                "attributes": [
                                    {"key": "langfuse.observation.type", "value": {"stringValue": "generation"}},
                                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": 7}},
                                ],
                                "status": {"code": 0},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    resp = await _post(spyglass, keys, json.dumps(body).encode(), "application/json")
    assert resp.status == 200 and resp.content_type == "application/json"
    await spyglass.wait_idle()
    rows = await spyglass.stores.ch.rows(
        "SELECT type, usage_details FROM observations WHERE project_id = {p:String} AND trace_id = {t:String}",
        {"p": keys.project_id, "t": trace_hex},
    )
    assert rows and rows[0]["type"] == "GENERATION" and rows[0]["usage_details"]["input"] == 7


_CORRUPT = "Error parsing message with type 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'"


@pytest.mark.parametrize(
    ("body", "ctype", "status", "message"),
    [
        (
            b"\x0a\xff\xff\xff\xff\x0f garbage",
            PB,
            400,
            f"malformed OTLP protobuf body: {_CORRUPT}: Wire format was corrupt",
        ),
        (
            _request(_span(b"\x01" * 16, b"\x02" * 8, "x"))[:-7],
            PB,
            400,
            f"malformed OTLP protobuf body: {_CORRUPT}: Wire format was corrupt",
        ),
        (
            b"{not json",
            "application/json",
            400,
            "malformed OTLP/JSON body: JSON is malformed: object keys must be strings (byte 1)",
        ),
        (b"[]", "application/json", 400, "OTLP/JSON: the body must be an object"),
        (
            b"{}",
            "text/plain",
            415,
            "unsupported Content-Type 'text/plain': send application/x-protobuf or application/json",
        ),
    ],
    ids=["garbage-protobuf", "truncated-protobuf", "garbage-json", "json-array", "wrong-content-type"],
)
async def test_malformed_bodies_get_a_clear_error(
    spyglass: Harness, body: bytes, ctype: str, status: int, message: str
) -> None:
    keys = await spyglass.new_project()
    before = spyglass.app[INTAKE].accepted_payloads  # type: ignore[index]
    resp = await _post(spyglass, keys, body, ctype)
    assert resp.status == status
    raw = await resp.read()
    if resp.content_type == PB:
        assert status_pb2.Status.FromString(raw).message == message
    else:
        assert msgspec.json.decode(raw)["message"] == message
    assert spyglass.app[INTAKE].accepted_payloads == before  # type: ignore[index]


async def test_all_spans_invalid_is_a_400(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    resp = await _post(spyglass, keys, _request(_span(b"\x01" * 16, b"\x00" * 8, "zero-span-id")))
    assert resp.status == 400
    assert "invalid" in status_pb2.Status.FromString(await resp.read()).message


async def test_oversize_and_zip_bomb_are_413(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    limit = spyglass.settings.collector.max_body_bytes
    bomb = gzip.compress(b"\0" * (limit + 1024 * 1024))
    assert len(bomb) < 1024 * 1024
    resp = await _post(spyglass, keys, bomb, **{"Content-Encoding": "gzip"})
    assert resp.status == 413
    resp = await _post(spyglass, keys, b"\0" * (limit + 1))
    assert resp.status == 413


async def test_bad_key_is_401_in_otlp_encoding(spyglass: Harness) -> None:
    keys = ProjectKeys("p", "pk-lf-nope", "sk-lf-nope")
    resp = await _post(spyglass, keys, _request())
    assert resp.status == 401
    assert "Unauthorized" in status_pb2.Status.FromString(await resp.read()).message


async def test_backpressure_answers_429_with_retry_after(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    app = spyglass.app
    assert app is not None
    original = app[INTAKE]
    stores = spyglass.stores
    app[INTAKE] = Intake(stores.events_blob, stores.queue, CollectorConfig(max_backlog=0, retry_after_seconds=3))
    try:
        resp = await _post(spyglass, keys, _request(_span(*_ids(1)[:1], _ids(1)[1][0], "x")))
        assert resp.status == 429
        assert resp.headers["Retry-After"] == "3"
    finally:
        app[INTAKE] = original


async def test_grpc_exporter_roundtrip(stack: Harness) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    keys = await stack.new_project()

    def emit() -> str:
        exporter = OTLPSpanExporter(
            endpoint=stack.grpc_target,
            insecure=True,
            headers=(("authorization", keys.auth_header),),
            compression=None,
        )
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("openinference.instrumentation.test")
        with tracer.start_as_current_span("agent") as span:
            span.set_attribute("openinference.span.kind", "AGENT")
            span.set_attribute("input.value", "hi")
            with tracer.start_as_current_span("llm") as llm:
                llm.set_attribute("openinference.span.kind", "LLM")
                llm.set_attribute("llm.model_name", "gpt-4o")
                llm.set_attribute("llm.token_count.prompt", 12)
                llm.set_attribute("llm.token_count.completion", 3)
        provider.shutdown()
        return format(span.get_span_context().trace_id, "032x")

    trace_hex = await asyncio.to_thread(emit)
    await stack.wait_idle()
    rows = await stack.stores.ch.rows(
        "SELECT name, type, input, usage_details FROM observations WHERE project_id = {p:String} "
        "AND trace_id = {t:String} ORDER BY event_ts DESC LIMIT 1 BY id",
        {"p": keys.project_id, "t": trace_hex},
    )
    by = {r["name"]: r for r in rows}
    assert by["agent"]["type"] == "AGENT" and by["agent"]["input"] == "hi"
    assert by["llm"]["type"] == "GENERATION"
    assert by["llm"]["usage_details"]["input"] == 12 and by["llm"]["usage_details"]["output"] == 3


async def test_grpc_bad_key_is_unauthenticated(spyglass: Harness) -> None:
    import grpc

    async with grpc_export(spyglass.grpc_target) as export:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await export(_request(), metadata=(("authorization", "Basic bm9wZTpub3Bl"),))
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        keys = await spyglass.new_project()
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await export(b"\x0a\xff\xff\xff\xff\x0f garbage", metadata=(("authorization", keys.auth_header),))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert info.value.details() == f"malformed OTLP protobuf body: {_CORRUPT}: Wire format was corrupt"


async def test_grpc_backpressure_is_unavailable_with_retry_info(spyglass: Harness) -> None:
    import grpc
    from google.rpc import error_details_pb2

    keys = await spyglass.new_project()
    app = spyglass.app
    assert app is not None
    original = app[INTAKE]
    stores = spyglass.stores
    app[INTAKE] = Intake(stores.events_blob, stores.queue, CollectorConfig(max_backlog=0, retry_after_seconds=4))
    try:
        async with grpc_export(spyglass.grpc_target) as export:
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await export(_request(), metadata=(("authorization", keys.auth_header),))
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        details = dict(info.value.trailing_metadata() or ())
        status = status_pb2.Status.FromString(details["grpc-status-details-bin"])
        retry = error_details_pb2.RetryInfo()
        assert status.details[0].Unpack(retry)
        assert retry.retry_delay.seconds == 4
    finally:
        app[INTAKE] = original


async def test_huge_attribute_value_is_stored_intact(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    trace_id, (a,) = _ids(1)
    big = "x" * (3 * 1024 * 1024)
    resp = await _post(spyglass, keys, _request(_span(trace_id, a, "big", **{"input.value": big})))
    assert resp.status == 200
    await spyglass.wait_idle()
    rows = await spyglass.stores.ch.rows(
        "SELECT length(input) AS n FROM observations WHERE project_id = {p:String} AND trace_id = {t:String}",
        {"p": keys.project_id, "t": trace_id.hex()},
    )
    assert rows == [{"n": len(big)}]


async def test_span_events_and_links_come_back_through_the_read_api(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    trace_id, (a, _b) = _ids(2)
    span = _span(trace_id, a, "with-events")
    ev = span.events.add(name="exception", time_unix_nano=span.start_time_unix_nano + 10)
    ev.attributes.append(common_pb2.KeyValue(key="exception.type", value=common_pb2.AnyValue(string_value="Boom")))
    link = span.links.add(trace_id=b"\x09" * 16, span_id=b"\x08" * 8)
    link.attributes.append(common_pb2.KeyValue(key="why", value=common_pb2.AnyValue(string_value="retry")))
    assert (await _post(spyglass, keys, _request(span))).status == 200
    await spyglass.wait_idle()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{spyglass.url}/api/public/observations/{a.hex()}", headers=keys.headers) as r:
            v1 = await r.json()
        async with http.get(
            f"{spyglass.url}/api/public/v2/observations",
            params={"traceId": trace_id.hex(), "fields": "core,metadata"},
            headers=keys.headers,
        ) as r:
            v2 = (await r.json())["data"][0]
    events, links = v1["metadata"]["spanEvents"], v1["metadata"]["spanLinks"]
    assert events[0]["name"] == "exception"
    assert "Boom" in json.dumps(events[0])
    assert links[0]["traceId"] == "09" * 16 or ("09" * 16) in json.dumps(links[0])
    assert "exception" in v2["metadata"]["spanEvents"] and "retry" in v2["metadata"]["spanLinks"]


async def test_an_organization_key_cannot_ingest_otlp(spyglass: Harness) -> None:
    """An organization key has no project to file the payload under: 403 / PERMISSION_DENIED,
    as the Langfuse ingestion routes answer, and nothing reaches the raw log."""
    import base64

    import grpc

    from spyglass.collector.http import ORG_KEY_CANNOT_INGEST
    from spyglass.store.postgres.api_keys import ApiKeys
    from spyglass.store.postgres.tenancy import Tenancy

    keys = await spyglass.new_project()
    project = await Tenancy(spyglass.stores.pg).get_project(keys.project_id)
    assert project is not None
    org_key = await ApiKeys(spyglass.stores.pg, spyglass.stores.cfg.salt).create_org_key(project.org_id)
    org_auth = "Basic " + base64.b64encode(f"{org_key.public_key}:{org_key.secret_key}".encode()).decode()
    trace_id, (span_id,) = _ids(1)
    body = _request(_span(trace_id, span_id, "from-an-org-key"))
    async with aiohttp.ClientSession() as http:
        resp = await http.post(
            f"{spyglass.url}/v1/traces", data=body, headers={"Authorization": org_auth, "Content-Type": PB}
        )
        answer = status_pb2.Status.FromString(await resp.read())
    assert resp.status == 403
    assert answer.message == ORG_KEY_CANNOT_INGEST
    async with grpc_export(spyglass.grpc_target) as export:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await export(body, metadata=(("authorization", org_auth),))
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert info.value.details() == ORG_KEY_CANNOT_INGEST
    assert [k async for k in spyglass.stores.events_blob.list("raw/None/")] == []
