"""Media API: the SDK's upload flow (POST → PUT → PATCH → GET → download) against the local blob
store (embedded) and S3 (scale-out), deduplication, references and isolation."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx
import pytest
from langfuse.api.client import LangfuseAPI
from langfuse.api.commons.errors.not_found_error import NotFoundError
from langfuse.api.media.types.media_content_type import MediaContentType
from langfuse.media import LangfuseMedia

from spyglass.store.postgres.media_repo import MEDIA_EXTENSIONS, MediaRepo
from tests.harness import Harness, ProjectKeys


def api(spyglass: Harness, keys: ProjectKeys) -> LangfuseAPI:
    return LangfuseAPI(base_url=spyglass.url, username=keys.public_key, password=keys.secret_key, timeout=30)


def sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def sdk_media_id(data: bytes, content_type: str = "image/png") -> str:
    media = LangfuseMedia(content_bytes=data, content_type=content_type)  # type: ignore[arg-type]
    assert media._media_id is not None
    return media._media_id


def put(url: str, data: bytes, content_type: str) -> httpx.Response:
    # The headers the SDK's media manager sends with the upload.
    headers = {"Content-Type": content_type, "x-ms-blob-type": "BlockBlob", "x-amz-checksum-sha256": sha(data)}
    return httpx.put(url, headers=headers, content=data, timeout=30)


def upload_once(client: LangfuseAPI, data: bytes, content_type: str = "image/png", **context: Any) -> Any:
    """POST /media, PUT the bytes if asked, PATCH the outcome, like the SDK."""
    answer = client.media.get_upload_url(
        content_type=content_type,  # type: ignore[arg-type]
        content_length=len(data),
        sha256hash=sha(data),
        field=context.pop("field", "input"),
        **context,
    )
    if answer.upload_url:
        response = put(answer.upload_url, data, content_type)
        assert response.status_code == 200, response.text
        client.media.patch(
            answer.media_id,
            uploaded_at=datetime.now(UTC),
            upload_http_status=response.status_code,
            upload_http_error=None,
            upload_time_ms=5,
        )
    return answer


async def post_media(spyglass: Harness, keys: ProjectKeys, body: dict[str, Any]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{spyglass.url}/api/public/media", json=body, headers=keys.headers) as resp,
    ):
        return resp.status, await resp.json()


async def test_sdk_content_types_are_all_accepted() -> None:
    assert {t.value for t in MediaContentType} == set(MEDIA_EXTENSIONS)


async def test_upload_flow_and_download(stack: Harness) -> None:
    keys = await stack.new_project()
    client = api(stack, keys)
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(2048)

    answer = await asyncio.to_thread(upload_once, client, data, trace_id="trace-1", observation_id="obs-1")
    assert answer.media_id == sdk_media_id(data)
    assert answer.upload_url is not None

    media = await asyncio.to_thread(client.media.get, answer.media_id)
    assert media.media_id == answer.media_id
    assert media.content_type == "image/png" and media.content_length == len(data)
    assert media.uploaded_at is not None
    assert datetime.fromisoformat(media.url_expiry) > datetime.now(UTC)
    download = await asyncio.to_thread(httpx.get, media.url, timeout=30)
    assert download.status_code == 200 and download.content == data

    record = await MediaRepo(stack.stores.pg).get(keys.project_id, answer.media_id)
    assert record is not None and record.bucket_path == f"{keys.project_id}/{answer.media_id}.png"
    assert await stack.stores.media_blob.get(record.bucket_path) == data


async def test_same_bytes_are_stored_once_but_linked_every_time(stack: Harness) -> None:
    keys = await stack.new_project()
    client = api(stack, keys)
    data = os.urandom(512)
    first = await asyncio.to_thread(upload_once, client, data, trace_id="trace-a")
    again = await asyncio.to_thread(
        upload_once, client, data, trace_id="trace-b", observation_id="obs-b", field="output"
    )
    item = await asyncio.to_thread(
        upload_once, client, data, dataset_id="ds-1", dataset_item_id="item-1", field="expectedOutput"
    )
    assert first.upload_url is not None
    assert again.upload_url is None and item.upload_url is None
    assert first.media_id == again.media_id == item.media_id == sdk_media_id(data)
    uses = await MediaRepo(stack.stores.pg).uses(keys.project_id, first.media_id)
    assert {(u.kind, u.trace_id, u.observation_id, u.dataset_item_id, u.field) for u in uses} == {
        ("trace", "trace-a", None, None, "input"),
        ("observation", "trace-b", "obs-b", None, "output"),
        ("dataset_item", None, None, "item-1", "expectedOutput"),
    }


async def test_pending_and_failed_uploads(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    client = api(spyglass, keys)
    data = os.urandom(300)
    first = await asyncio.to_thread(
        client.media.get_upload_url,
        content_type="application/pdf",
        content_length=len(data),
        sha256hash=sha(data),
        field="input",
        trace_id="t",
    )
    with pytest.raises(NotFoundError) as pending:
        await asyncio.to_thread(client.media.get, first.media_id)
    assert "not yet uploaded" in pending.value.body["message"]

    await asyncio.to_thread(
        client.media.patch,
        first.media_id,
        uploaded_at=datetime.now(UTC),
        upload_http_status=500,
        upload_http_error="bucket on fire",
    )
    with pytest.raises(NotFoundError) as failed:
        await asyncio.to_thread(client.media.get, first.media_id)
    assert "failed" in failed.value.body["message"]
    record = await MediaRepo(spyglass.stores.pg).get(keys.project_id, first.media_id)
    assert record is not None and record.upload_http_error == "bucket on fire" and record.uploaded_at is None

    # Announced again after a failure: a new upload URL, and the upload then succeeds.
    retry = await asyncio.to_thread(upload_once, client, data, "application/pdf", trace_id="t")
    assert retry.upload_url is not None and retry.media_id == first.media_id
    assert (await asyncio.to_thread(client.media.get, first.media_id)).content_type == "application/pdf"

    with pytest.raises(NotFoundError):
        await asyncio.to_thread(
            client.media.patch, "no-such-media-id-000000", uploaded_at=datetime.now(UTC), upload_http_status=200
        )


async def test_another_content_type_is_uploaded_again(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    client = api(spyglass, keys)
    data = b"hello, world"
    as_text = await asyncio.to_thread(upload_once, client, data, "text/plain", trace_id="t")
    as_csv = await asyncio.to_thread(upload_once, client, data, "text/csv", trace_id="t")
    assert as_text.media_id == as_csv.media_id
    assert as_csv.upload_url is not None
    media = await asyncio.to_thread(client.media.get, as_csv.media_id)
    assert media.content_type == "text/csv"
    assert (await asyncio.to_thread(httpx.get, media.url)).content == data


async def test_upload_url_only_accepts_the_announced_bytes(stack: Harness) -> None:
    keys = await stack.new_project()
    client = api(stack, keys)
    data = os.urandom(256)
    answer = await asyncio.to_thread(
        client.media.get_upload_url,
        content_type="image/webp",
        content_length=len(data),
        sha256hash=sha(data),
        field="input",
        trace_id="t",
    )
    assert answer.upload_url is not None
    tampered = bytes(reversed(data))
    response = await asyncio.to_thread(
        httpx.put,
        answer.upload_url,
        headers={"Content-Type": "image/webp", "x-amz-checksum-sha256": sha(data)},
        content=tampered,
    )
    assert response.status_code in (400, 403)
    assert not await stack.stores.media_blob.exists(f"{keys.project_id}/{answer.media_id}.webp")


INVALID: list[tuple[dict[str, Any], str]] = [
    ({"contentType": "image/x-fancy"}, "image/x-fancy"),
    ({"contentLength": 0}, "contentLength"),
    ({"sha256Hash": "not-a-hash"}, "sha256Hash"),
    ({"traceId": None}, "traceId"),
    ({"datasetId": "d", "datasetItemId": "i"}, "not both"),
    ({"field": "expectedOutput"}, "'expectedOutput'"),
    ({"traceId": None, "datasetId": "d", "datasetItemId": "i", "field": "output"}, "'output'"),
]


@pytest.mark.parametrize(("change", "needle"), INVALID)
async def test_invalid_announcements(spyglass: Harness, change: dict[str, Any], needle: str) -> None:
    keys = await spyglass.new_project()
    body = {
        "traceId": "t",
        "contentType": "image/png",
        "contentLength": 10,
        "sha256Hash": sha(b"0123456789"),
        "field": "input",
        **change,
    }
    status, answer = await post_media(spyglass, keys, body)
    assert status == 400
    assert needle in answer["message"]


async def test_media_is_per_project(spyglass: Harness) -> None:
    a, b = await spyglass.new_project(), await spyglass.new_project()
    data = os.urandom(128)
    mine = await asyncio.to_thread(upload_once, api(spyglass, a), data, trace_id="t")
    with pytest.raises(NotFoundError):
        await asyncio.to_thread(api(spyglass, b).media.get, mine.media_id)
    with pytest.raises(NotFoundError):
        await asyncio.to_thread(
            api(spyglass, b).media.patch, mine.media_id, uploaded_at=datetime.now(UTC), upload_http_status=500
        )
    # The same bytes in another project are that project's own upload, not a shortcut to ours.
    theirs = await asyncio.to_thread(
        api(spyglass, b).media.get_upload_url,
        content_type="image/png",
        content_length=len(data),
        sha256hash=sha(data),
        field="input",
        trace_id="t",
    )
    assert theirs.media_id == mine.media_id and theirs.upload_url is not None
    assert (await asyncio.to_thread(api(spyglass, a).media.get, mine.media_id)).content_length == len(data)


async def test_sdk_media_in_a_span_round_trips(stack: Harness) -> None:
    keys = await stack.new_project()
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(1024)
    wav = b"RIFF" + os.urandom(700)

    def run() -> tuple[str, str, Any]:
        from langfuse import Langfuse

        lf = Langfuse(public_key=keys.public_key, secret_key=keys.secret_key, base_url=stack.url)
        with lf.start_as_current_observation(name="vision", as_type="generation", model="gpt-4o") as gen:
            gen.update(
                input={"image": LangfuseMedia(content_bytes=png, content_type="image/png"), "question": "what?"},
                output={"audio": LangfuseMedia(content_bytes=wav, content_type="audio/wav")},
            )
            trace_id, obs_id = gen.trace_id, gen.id
        lf.flush()
        return trace_id, obs_id, lf

    trace_id, obs_id, lf = await asyncio.to_thread(run)
    await stack.wait_idle()
    rows = await stack.stores.ch.rows(
        "SELECT input, output FROM observations WHERE project_id = {p:String} AND id = {id:String} "
        "ORDER BY event_ts DESC LIMIT 1",
        {"p": keys.project_id, "id": obs_id},
    )
    assert rows and "@@@langfuseMedia:type=image/png" in rows[0]["input"]
    assert "@@@langfuseMedia:type=audio/wav" in rows[0]["output"]

    resolved = await asyncio.to_thread(
        lf.resolve_media_references,
        obj={"in": rows[0]["input"], "out": rows[0]["output"]},
        resolve_with="base64_data_uri",
    )
    assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in resolved["in"]
    assert f"data:audio/wav;base64,{base64.b64encode(wav).decode()}" in resolved["out"]

    repo = MediaRepo(stack.stores.pg)
    for data, field in ((png, "input"), (wav, "output")):
        uses = await repo.uses(keys.project_id, sdk_media_id(data))
        assert [(u.kind, u.trace_id, u.observation_id, u.field) for u in uses] == [
            ("observation", trace_id, obs_id, field)
        ]
    await asyncio.to_thread(lf.shutdown)
