from __future__ import annotations

import base64
import hashlib

import aiohttp

from tests.harness import Harness


async def test_presigned_put_then_get_through_our_server(spyglass: Harness) -> None:
    store = spyglass.stores.media_blob
    data = b"\x89PNG fake image bytes"
    checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
    put_url = await store.presign_put(
        "p1/abc.png", 600, "image/png", content_length=len(data), checksum_sha256_b64=checksum
    )
    assert put_url.startswith(spyglass.url + "/api/blob/media/")
    async with aiohttp.ClientSession() as http:
        async with http.put(put_url, data=data, headers={"Content-Type": "image/png"}) as r:
            assert r.status == 200
        get_url = await store.presign_get("p1/abc.png", 600)
        async with http.get(get_url) as r:
            assert r.status == 200
            assert await r.read() == data
            assert r.headers["Content-Type"] == "image/png"
        tampered = get_url.replace("sig=", "sig=0")
        async with http.get(tampered) as r:
            assert r.status == 403
        # a GET URL cannot be used to write
        async with http.put(get_url, data=b"x") as r:
            assert r.status == 403
        # the body must match what was signed
        async with http.put(put_url, data=b"other bytes!!", headers={"Content-Type": "image/png"}) as r:
            assert r.status == 403
        # the events store (raw payloads) is never served
        events_url = get_url.replace("/api/blob/media/", "/api/blob/events/")
        async with http.get(events_url) as r:
            assert r.status == 404
