"""Media API: POST /api/public/media (upload URL), PATCH and GET /api/public/media/{mediaId}.

The SDK flow per distinct file: POST (announce, get a presigned PUT unless already uploaded),
PUT the bytes straight to the blob store, PATCH the outcome. GET returns a presigned download
URL. Presigned URLs come from the media blob store: S3 signs its own, the local store's point
back at Spyglass (`/api/blob/media/...`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from aiohttp import web

from spyglass.collector.http import STORES, ApiError, json_response
from spyglass.collector.time_range import in_range, out_of_range
from spyglass.query.reads import scope
from spyglass.query.reads.params import check_body
from spyglass.query.reads.values import iso_dt
from spyglass.store.postgres.media_repo import (
    MEDIA_EXTENSIONS,
    MediaRecord,
    MediaRepo,
    MediaUse,
    is_sha256_b64,
    media_id_for,
    object_key,
)
from spyglass.store.stores import Stores

UPLOAD_URL_SECONDS = 3600
DOWNLOAD_URL_SECONDS = 3600
MAX_CONTENT_LENGTH = 1024**3  # Langfuse's default LANGFUSE_S3_MEDIA_MAX_CONTENT_LENGTH (1 GB)
TRACE_FIELDS = ("input", "output", "metadata")
DATASET_ITEM_FIELDS = ("input", "expectedOutput", "metadata")


class UploadUrlRequest(msgspec.Struct, frozen=True, rename="camel"):
    content_type: str
    content_length: int
    sha256_hash: str
    field: str
    trace_id: str | None = None
    observation_id: str | None = None
    dataset_id: str | None = None
    dataset_item_id: str | None = None


class UploadReport(msgspec.Struct, frozen=True, rename="camel"):
    uploaded_at: datetime
    upload_http_status: int
    upload_http_error: str | None = None
    upload_time_ms: float | None = None


async def _body(request: web.Request, kind: type[Any]) -> Any:
    raw = await request.read()
    check_body(raw)
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        raise ApiError(400, f"Invalid request data: {exc}") from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise ApiError(400, "Invalid request data: the body is not valid JSON") from None


def _use_of(body: UploadUrlRequest) -> MediaUse:
    """The single context the media is announced for: a trace (maybe an observation of it) or a
    dataset item."""
    for_item = body.dataset_id is not None or body.dataset_item_id is not None
    if body.trace_id and for_item:
        raise ApiError(400, "Invalid request data: give either traceId or datasetId with datasetItemId, not both")
    if body.trace_id:
        if body.field not in TRACE_FIELDS:
            raise ApiError(
                400, f"Invalid field '{body.field}' for trace media. Must be one of: {', '.join(TRACE_FIELDS)}"
            )
        if body.observation_id:
            return MediaUse(
                kind="observation", field=body.field, trace_id=body.trace_id, observation_id=body.observation_id
            )
        return MediaUse(kind="trace", field=body.field, trace_id=body.trace_id)
    if body.dataset_id and body.dataset_item_id:
        if body.field not in DATASET_ITEM_FIELDS:
            raise ApiError(
                400,
                f"Invalid field '{body.field}' for dataset item media. "
                f"Must be one of: {', '.join(DATASET_ITEM_FIELDS)}",
            )
        return MediaUse(
            kind="dataset_item", field=body.field, dataset_id=body.dataset_id, dataset_item_id=body.dataset_item_id
        )
    raise ApiError(400, "Invalid request data: traceId, or datasetId with datasetItemId, is required")


def _bucket_name(stores: Stores) -> str:
    cfg = stores.cfg.media_blob
    return cfg.bucket if cfg.bucket is not None else f"local:{stores.media_blob.name}"


async def create_upload_url(request: web.Request) -> web.Response:
    project_id = await scope.project_id(request)
    body: UploadUrlRequest = await _body(request, UploadUrlRequest)
    if body.content_type not in MEDIA_EXTENSIONS:
        raise ApiError(
            400,
            f"Invalid content type '{body.content_type}'. Only supporting: {', '.join(MEDIA_EXTENSIONS)}",
        )
    if not 0 < body.content_length <= MAX_CONTENT_LENGTH:
        raise ApiError(400, f"Invalid contentLength {body.content_length}: must be 1..{MAX_CONTENT_LENGTH} bytes")
    if not is_sha256_b64(body.sha256_hash):
        raise ApiError(400, "Invalid sha256Hash: must be a 44 character base64 encoded SHA-256 hash")
    use = _use_of(body)
    stores = request.app[STORES]
    record, needs_upload = await MediaRepo(stores.pg).announce(
        project_id,
        sha256_b64=body.sha256_hash,
        content_type=body.content_type,
        content_length=body.content_length,
        bucket_name=_bucket_name(stores),
        bucket_path=object_key(project_id, media_id_for(body.sha256_hash), body.content_type),
        use=use,
    )
    upload_url = None
    if needs_upload:
        # Signed for exactly these bytes: the store rejects another type, length or content.
        upload_url = await stores.media_blob.presign_put(
            record.bucket_path,
            UPLOAD_URL_SECONDS,
            body.content_type,
            body.content_length,
            body.sha256_hash,
        )
    return json_response({"mediaId": record.id, "uploadUrl": upload_url})


async def report_upload(request: web.Request) -> web.Response:
    project_id = await scope.project_id(request)
    media_id = request.match_info["media_id"]
    body: UploadReport = await _body(request, UploadReport)
    if not in_range(body.uploaded_at):
        raise ApiError(400, f"Invalid request data: uploadedAt {out_of_range(body.uploaded_at.isoformat())}")
    uploaded_at = body.uploaded_at if body.uploaded_at.tzinfo else body.uploaded_at.replace(tzinfo=UTC)
    found = await MediaRepo(request.app[STORES].pg).record_upload(
        project_id,
        media_id,
        uploaded_at=uploaded_at,
        http_status=body.upload_http_status,
        http_error=body.upload_http_error,
        upload_time_ms=int(body.upload_time_ms) if body.upload_time_ms is not None else None,
    )
    if not found:
        raise ApiError(404, f"Media asset {media_id} not found in project {project_id}")
    return web.Response(status=204)


async def download_info(stores: Stores, record: MediaRecord) -> dict[str, Any]:
    """`{mediaId, contentType, contentLength, uploadedAt, url, urlExpiry}` for an uploaded file
    (also the `media` part of a dataset item's media references)."""
    expiry = datetime.now(UTC) + timedelta(seconds=DOWNLOAD_URL_SECONDS)
    url = await stores.media_blob.presign_get(record.bucket_path, DOWNLOAD_URL_SECONDS)
    return {
        "mediaId": record.id,
        "contentType": record.content_type,
        "contentLength": record.content_length,
        "uploadedAt": iso_dt(record.uploaded_at),
        "url": url,
        "urlExpiry": iso_dt(expiry),
    }


async def get_media(request: web.Request) -> web.Response:
    project_id = await scope.project_id(request)
    media_id = request.match_info["media_id"]
    stores = request.app[STORES]
    record = await MediaRepo(stores.pg).get(project_id, media_id)
    if record is None:
        raise ApiError(404, "Media asset not found")
    if not record.uploaded:
        message = "Media not yet uploaded" if record.upload_http_status is None else "Media upload failed"
        raise ApiError(404, message)
    return json_response(await download_info(stores, record))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/public/media", create_upload_url)
    app.router.add_get("/api/public/media/{media_id}", get_media)
    app.router.add_patch("/api/public/media/{media_id}", report_upload)
