"""Media files the SDKs upload (images, audio, documents) and where they are referenced.

A file's id is derived from its SHA-256 (see `media_id_for`), so the same bytes always get the
same id in a project: announcing them again finds the row, and if they are already uploaded
with the same content type nothing is uploaded twice. Each announcement still records where the
file is used (trace, observation or dataset item), so every reference resolves.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Literal

import asyncpg
import msgspec

from spyglass.store.postgres.faults import db_errors
from spyglass.store.postgres.ids import new_id
from spyglass.store.postgres.pool import Conn

MEDIA_ID_LENGTH = 22

# The content types the SDKs may announce (their MediaContentType enum) and the file extension
# of the stored object, `{project_id}/{media_id}.{ext}` as in Langfuse's bucket layout.
MEDIA_EXTENSIONS: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/svg+xml": "svg",
    "image/tiff": "tiff",
    "image/bmp": "bmp",
    "image/avif": "avif",
    "image/heic": "heic",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/wav": "wav",
    "audio/ogg": "ogg",
    "audio/oga": "oga",
    "audio/aac": "aac",
    "audio/mp4": "m4a",
    "audio/flac": "flac",
    "audio/opus": "opus",
    "audio/webm": "webm",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/ogg": "ogv",
    "video/mpeg": "mpeg",
    "video/quicktime": "mov",
    "video/x-msvideo": "avi",
    "video/x-matroska": "mkv",
    "text/plain": "txt",
    "text/html": "html",
    "text/css": "css",
    "text/csv": "csv",
    "text/markdown": "md",
    "text/x-python": "py",
    "application/javascript": "js",
    "text/x-typescript": "ts",
    "application/x-yaml": "yaml",
    "application/pdf": "pdf",
    "application/msword": "doc",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/zip": "zip",
    "application/json": "json",
    "application/xml": "xml",
    "application/octet-stream": "bin",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/rtf": "rtf",
    "application/x-ndjson": "ndjson",
    "application/vnd.apache.parquet": "parquet",
    "application/gzip": "gz",
    "application/x-tar": "tar",
    "application/x-7z-compressed": "7z",
}


def object_key(project_id: str, media_id: str, content_type: str) -> str:
    """Where the file's bytes live in the media blob store."""
    return f"{project_id}/{media_id}.{MEDIA_EXTENSIONS[content_type]}"


def media_id_for(sha256_b64: str) -> str:
    """The id every Langfuse SDK computes: the first 22 characters of the URL-safe base64 SHA-256."""
    return sha256_b64.replace("+", "-").replace("/", "_")[:MEDIA_ID_LENGTH]


def is_sha256_b64(value: str) -> bool:
    """True for standard base64 (44 characters, padded) of exactly 32 bytes."""
    if len(value) != 44:
        return False
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


class MediaRecord(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    project_id: str
    sha_256_hash: str
    content_type: str
    content_length: int
    bucket_name: str
    bucket_path: str
    uploaded_at: datetime | None = None
    upload_http_status: int | None = None
    upload_http_error: str | None = None
    upload_time_ms: int | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def uploaded(self) -> bool:
        status = self.upload_http_status
        return self.uploaded_at is not None and status is not None and 200 <= status < 300


class MediaUse(msgspec.Struct, frozen=True, kw_only=True):
    """Where a media file is referenced."""

    kind: Literal["trace", "observation", "dataset_item"]
    field: str
    trace_id: str | None = None
    observation_id: str | None = None
    dataset_id: str | None = None
    dataset_item_id: str | None = None


_COLS = (
    "id, project_id, sha_256_hash, content_type, content_length, bucket_name, bucket_path, uploaded_at, "
    "upload_http_status, upload_http_error, upload_time_ms, created_at, updated_at"
)


def _record(row: asyncpg.Record) -> MediaRecord:
    return MediaRecord(**dict(row))


class MediaRepo:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, project_id: str, media_id: str) -> MediaRecord | None:
        with db_errors():
            row = await self._pool.fetchrow(
                f"SELECT {_COLS} FROM media WHERE project_id = $1 AND id = $2", project_id, media_id
            )
        return _record(row) if row else None

    async def announce(
        self,
        project_id: str,
        *,
        sha256_b64: str,
        content_type: str,
        content_length: int,
        bucket_name: str,
        bucket_path: str,
        use: MediaUse,
    ) -> tuple[MediaRecord, bool]:
        """Register a file about to be referenced; returns (record, needs_upload).

        Already uploaded with the same content type: nothing changes but the new reference. Else
        the row is (re)written for this content type and location, pending an upload; a changed
        content type means a different object key, so any earlier upload state is cleared.
        """
        media_id = media_id_for(sha256_b64)
        with db_errors():
            async with self._pool.acquire() as conn, conn.transaction():
                # Row lock: concurrent announcements of the same file serialise here.
                row = await conn.fetchrow(
                    f"SELECT {_COLS} FROM media WHERE project_id = $1 AND id = $2 FOR UPDATE", project_id, media_id
                )
                existing = _record(row) if row else None
                needs_upload = not (existing and existing.uploaded and existing.content_type == content_type)
                if needs_upload:
                    row = await conn.fetchrow(
                        "INSERT INTO media (id, project_id, sha_256_hash, content_type, content_length, bucket_name, "
                        "bucket_path) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                        "ON CONFLICT (project_id, id) DO UPDATE SET sha_256_hash = EXCLUDED.sha_256_hash, "
                        "content_type = EXCLUDED.content_type, content_length = EXCLUDED.content_length, "
                        "bucket_name = EXCLUDED.bucket_name, bucket_path = EXCLUDED.bucket_path, "
                        "uploaded_at = CASE WHEN media.content_type = EXCLUDED.content_type "
                        "  THEN media.uploaded_at END, "
                        "upload_http_status = CASE WHEN media.content_type = EXCLUDED.content_type "
                        "  THEN media.upload_http_status END, "
                        "upload_http_error = CASE WHEN media.content_type = EXCLUDED.content_type "
                        "  THEN media.upload_http_error END "
                        f"RETURNING {_COLS}",
                        media_id,
                        project_id,
                        sha256_b64,
                        content_type,
                        content_length,
                        bucket_name,
                        bucket_path,
                    )
                    assert row is not None  # the upsert returns the row it wrote
                    existing = _record(row)
                await _link(conn, project_id, media_id, use)
        assert existing is not None
        return existing, needs_upload

    async def record_upload(
        self,
        project_id: str,
        media_id: str,
        *,
        uploaded_at: datetime,
        http_status: int,
        http_error: str | None,
        upload_time_ms: int | None,
    ) -> bool:
        """Store the SDK's report of its upload; a non-2xx status leaves the file not uploaded.
        False when the project has no such media."""
        ok = 200 <= http_status < 300
        with db_errors():
            found = await self._pool.fetchval(
                "UPDATE media SET uploaded_at = $3, upload_http_status = $4, upload_http_error = $5, "
                "upload_time_ms = $6 WHERE project_id = $1 AND id = $2 RETURNING id",
                project_id,
                media_id,
                uploaded_at if ok else None,
                http_status,
                None if ok else http_error,
                upload_time_ms,
            )
        return found is not None

    async def uses(self, project_id: str, media_id: str) -> list[MediaUse]:
        """Every recorded reference to the file."""
        with db_errors():
            async with self._pool.acquire() as conn:
                traces = await conn.fetch(
                    "SELECT trace_id, field FROM trace_media WHERE project_id = $1 AND media_id = $2 "
                    "ORDER BY created_at, id",
                    project_id,
                    media_id,
                )
                observations = await conn.fetch(
                    "SELECT trace_id, observation_id, field FROM observation_media "
                    "WHERE project_id = $1 AND media_id = $2 ORDER BY created_at, id",
                    project_id,
                    media_id,
                )
                items = await conn.fetch(
                    "SELECT dataset_id, dataset_item_id, field FROM dataset_item_media "
                    "WHERE project_id = $1 AND media_id = $2 ORDER BY created_at, id",
                    project_id,
                    media_id,
                )
        return [
            *(MediaUse(kind="trace", field=r["field"], trace_id=r["trace_id"]) for r in traces),
            *(
                MediaUse(
                    kind="observation", field=r["field"], trace_id=r["trace_id"], observation_id=r["observation_id"]
                )
                for r in observations
            ),
            *(
                MediaUse(
                    kind="dataset_item",
                    field=r["field"],
                    dataset_id=r["dataset_id"],
                    dataset_item_id=r["dataset_item_id"],
                )
                for r in items
            ),
        ]


async def _link(conn: Conn, project_id: str, media_id: str, use: MediaUse) -> None:
    if use.kind == "observation":
        await conn.execute(
            "INSERT INTO observation_media (id, project_id, media_id, trace_id, observation_id, field) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            new_id(),
            project_id,
            media_id,
            use.trace_id,
            use.observation_id,
            use.field,
        )
    elif use.kind == "trace":
        await conn.execute(
            "INSERT INTO trace_media (id, project_id, media_id, trace_id, field) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            new_id(),
            project_id,
            media_id,
            use.trace_id,
            use.field,
        )
    else:
        await conn.execute(
            "INSERT INTO dataset_item_media (id, project_id, media_id, dataset_id, dataset_item_id, field) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            new_id(),
            project_id,
            media_id,
            use.dataset_id,
            use.dataset_item_id,
            use.field,
        )
