"""The raw log keeps gzip OTLP bodies as received; old uncompressed entries still process."""

from __future__ import annotations

import gzip
import time
import zlib

import msgspec
import pytest

from spyglass.collector.compression import InflatedTooLarge, InflateError, inflate
from spyglass.collector.http import INTAKE
from spyglass.collector.rawlog import RawRef, decode_ref, encode_ref, make_ref, parse_key
from spyglass.collector.worker.map_pool import MappedPayload, MapTask, ProjectModels, map_payload
from spyglass.store.postgres.dead_letters import DeadLetters
from tests.harness import Harness
from tests.ingest.test_otlp_protocol import _ids, _names, _post, _request, _span, grpc_export


async def _raw_keys(h: Harness, pid: str) -> list[str]:
    return [k async for k in h.stores.events_blob.list(f"raw/{pid}/")]


async def test_gzip_body_is_stored_as_received_and_maps(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    trace_id, (a, b) = _ids(2)
    sent = gzip.compress(_request(_span(trace_id, a, "gz-1"), _span(trace_id, b, "gz-2", parent=a)))
    resp = await _post(spyglass, keys, sent, **{"Content-Encoding": "gzip"})
    assert resp.status == 200
    (key,) = await _raw_keys(spyglass, keys.project_id)
    assert key.endswith(".otel.pb.gz")
    assert await spyglass.stores.events_blob.get(key) == sent
    await spyglass.wait_idle()
    assert await _names(spyglass, keys.project_id, trace_id.hex()) == ["gz-1", "gz-2"]

    # Replaying the compressed entry (twice) rewrites identical rows: still one row per span.
    ref = parse_key(key)
    assert ref is not None and ref.encoding == "gzip"
    for _ in range(2):
        await spyglass.stores.queue.put(encode_ref(ref))
    await spyglass.wait_idle()
    rows = await spyglass.stores.ch.rows(
        "SELECT id, count() AS n FROM observations FINAL WHERE project_id = {p:String} GROUP BY id",
        {"p": keys.project_id},
    )
    assert sorted((r["id"], r["n"]) for r in rows) == [(a.hex(), 1), (b.hex(), 1)]


async def test_rejected_bodies_leave_the_raw_log_as_it_was(stack: Harness) -> None:
    """Bodies are written while they are checked (`Intake.stage`): whatever the check rejects,
    over HTTP or gRPC, is deleted again; only the accepted body stays."""
    import grpc

    keys = await stack.new_project()
    trace_id, (a,) = _ids(1)
    gz = {"Content-Encoding": "gzip"}
    limit = stack.settings.collector.max_body_bytes
    rejected = [
        (b"\x0a\xff\xff\xff\xff\x0f garbage", {}, 400),
        (gzip.compress(b"\x0a\xff\xff\xff\xff\x0f garbage"), gz, 400),
        (gzip.compress(_request(_span(trace_id, b"\x00" * 8, "zero-span-id"))), gz, 400),
        (gzip.compress(b"\0" * (limit + 1024)), gz, 413),
        (gzip.compress(b""), gz, 200),  # empty once inflated: nothing to store
    ]
    for body, headers, status in rejected:
        assert (await _post(stack, keys, body, **headers)).status == status
    async with grpc_export(stack.grpc_target) as export:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await export(b"\xff\xff garbage", metadata=(("authorization", keys.auth_header),))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert stack.app is not None
    await stack.app[INTAKE].drain()
    assert await _raw_keys(stack, keys.project_id) == []

    sent = gzip.compress(_request(_span(trace_id, a, "kept")))
    assert (await _post(stack, keys, sent, **gz)).status == 200
    (key,) = await _raw_keys(stack, keys.project_id)
    assert await stack.stores.events_blob.get(key) == sent
    await stack.wait_idle()
    assert await _names(stack, keys.project_id, trace_id.hex()) == ["kept"]


async def test_deflate_and_plain_bodies_are_stored_uncompressed(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    trace_id, (a, b) = _ids(2)
    plain = _request(_span(trace_id, a, "plain"))
    assert (await _post(spyglass, keys, plain)).status == 200
    deflated = _request(_span(trace_id, b, "deflated"))
    assert (await _post(spyglass, keys, zlib.compress(deflated), **{"Content-Encoding": "deflate"})).status == 200
    stored = {k: await spyglass.stores.events_blob.get(k) for k in await _raw_keys(spyglass, keys.project_id)}
    assert all(k.endswith(".otel.pb") for k in stored)
    assert sorted(stored.values()) == sorted([plain, deflated])


async def test_corrupt_gzip_is_400(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    trace_id, (a,) = _ids(1)
    truncated = gzip.compress(_request(_span(trace_id, a, "cut")))[:-12]
    resp = await _post(spyglass, keys, truncated, **{"Content-Encoding": "gzip"})
    assert resp.status == 400
    assert spyglass.app is not None
    await spyglass.app[INTAKE].drain()  # the staged write is deleted in the background
    assert await _raw_keys(spyglass, keys.project_id) == []


async def test_old_format_entry_still_processes(spyglass: Harness) -> None:
    """A raw-log file and queue entry written before encodings existed: no `.gz`, a 5-field ref."""
    keys = await spyglass.new_project()
    trace_id, (a,) = _ids(1)
    ref = make_ref(keys.project_id, "otel", "pb")
    await spyglass.stores.events_blob.put(ref.key, _request(_span(trace_id, a, "old-format")))
    old_entry = msgspec.msgpack.encode([ref.key, ref.project_id, ref.source, ref.fmt, ref.received_us])
    assert decode_ref(old_entry) == ref
    await spyglass.stores.queue.put(old_entry)
    await spyglass.wait_idle()
    assert await _names(spyglass, keys.project_id, trace_id.hex()) == ["old-format"]


async def test_zip_bomb_in_the_raw_log_is_a_dead_letter(spyglass: Harness) -> None:
    """Replay reads whatever is on disk: a gzip file past the cap is dead-lettered, the mapping
    processes carry on."""
    keys = await spyglass.new_project()
    limit = spyglass.settings.collector.max_body_bytes
    ref = make_ref(keys.project_id, "otel", "pb", encoding="gzip")
    await spyglass.stores.events_blob.put(ref.key, gzip.compress(b"\0" * (limit + 1024), compresslevel=9))
    await spyglass.stores.queue.put(encode_ref(ref))
    await spyglass.wait_idle()
    letters = await DeadLetters(spyglass.stores.pg).list(project_id=keys.project_id)
    assert [d.blob_key for d in letters] == [ref.key]
    assert "cannot inflate gzip payload: decompresses to more than" in letters[0].reason
    # The mapping processes still work.
    trace_id, (a,) = _ids(1)
    resp = await _post(
        spyglass, keys, gzip.compress(_request(_span(trace_id, a, "after"))), **{"Content-Encoding": "gzip"}
    )
    assert resp.status == 200
    await spyglass.wait_idle()
    assert await _names(spyglass, keys.project_id, trace_id.hex()) == ["after"]


# -- units ---------------------------------------------------------------------------------------


def test_keys_and_refs_carry_the_encoding() -> None:
    gz = make_ref("p1", "otel", "pb", 1_790_000_000_000_000, encoding="gzip")
    plain = make_ref("p1", "otel", "json", 1_790_000_000_000_000)
    assert gz.key.endswith(".otel.pb.gz") and plain.key.endswith(".otel.json")
    assert parse_key(gz.key) == gz and parse_key(plain.key) == plain
    assert decode_ref(encode_ref(gz)) == gz
    assert parse_key(gz.key + "x") is None
    assert RawRef("k", "p", "otel", "pb", 1).encoding == "identity"


def test_gzip_payload_maps_to_the_same_rows() -> None:
    trace_id, (a, b) = _ids(2)
    body = _request(_span(trace_id, a, "one", **{"gen_ai.request.model": "gpt-4o"}), _span(trace_id, b, "two"))

    def task(data: bytes, encoding: str) -> MapTask:
        return MapTask(data, "pb", "p", time.time(), ProjectModels(1), encoding)

    received_at = time.time()
    plain = map_payload(msgspec.structs.replace(task(body, "identity"), received_at=received_at))
    gz = map_payload(msgspec.structs.replace(task(gzip.compress(body), "gzip"), received_at=received_at))
    assert isinstance(plain, MappedPayload) and isinstance(gz, MappedPayload)
    assert gz.rows == plain.rows and gz.row_count == 2 and gz.ids == plain.ids
    bomb = map_payload(task(gzip.compress(b"\0" * 5000), "gzip"), max_inflated=4096)
    assert bomb == "cannot inflate gzip payload: decompresses to more than 4096 bytes"
    assert map_payload(task(b"not gzip", "gzip")).startswith("cannot inflate gzip payload:")  # type: ignore[union-attr]


def test_inflate_caps_and_checks() -> None:
    data = b"x" * 1000
    assert inflate(gzip.compress(data), "gzip", 1000) == data
    assert inflate(gzip.compress(data) + gzip.compress(b"yz"), "x-gzip", 1002) == data + b"yz"
    assert inflate(zlib.compress(data), "deflate", 1000) == data
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert inflate(raw.compress(data) + raw.flush(), "deflate", 1000) == data
    assert inflate(b"", "gzip", 10) == b""
    with pytest.raises(InflatedTooLarge):
        inflate(gzip.compress(data), "gzip", 999)
    with pytest.raises(InflatedTooLarge):
        inflate(gzip.compress(data) + gzip.compress(b"yz"), "gzip", 1001)
    with pytest.raises(InflateError, match="truncated"):
        inflate(gzip.compress(data)[:-10], "gzip", 2000)
    with pytest.raises(InflateError):
        inflate(b"plain text", "gzip", 2000)


async def test_other_routes_still_get_inflated_bodies(spyglass: Harness) -> None:
    """The server leaves bodies compressed; the middleware inflates them for every other route."""
    import aiohttp

    keys = await spyglass.new_project()
    body = msgspec.json.encode({"name": "gz-dataset"})
    async with aiohttp.ClientSession() as http:
        url = f"{spyglass.url}/api/public/v2/datasets"
        headers = {**keys.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"}
        async with http.post(url, data=gzip.compress(body), headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["name"] == "gz-dataset"
        async with http.post(url, data=gzip.compress(body)[:-8], headers=headers) as resp:
            assert resp.status == 400
        async with http.get(f"{spyglass.url}/api/public/health", headers={"Content-Encoding": "gzip"}) as resp:
            assert resp.status == 200
