"""Serves the local blob store's presigned URLs (`/api/blob/{store}/{key}`), so media uploads and
export downloads work without S3. The signature is the credential: no API key is sent, as with
S3 presigned URLs. Only the media and exports stores are reachable this way.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes

from aiohttp import web

from spyglass.collector.http import STORES, ApiError
from spyglass.store.blob import BlobNotFound, LocalBlobStore

_SERVED = ("media", "exports")


def _store(request: web.Request) -> LocalBlobStore:
    name = request.match_info["store"]
    stores = request.app[STORES]
    store = {"media": stores.media_blob, "exports": stores.exports_blob}.get(name)
    if name not in _SERVED or not isinstance(store, LocalBlobStore):
        raise ApiError(404, f"no local blob store named {name!r}")
    return store


def _verify(request: web.Request, store: LocalBlobStore, key: str) -> None:
    if not store.signer.verify_request(store.name, key, request.method, request.query):
        raise ApiError(403, "Forbidden: the URL's signature is invalid or it has expired")


async def get_blob(request: web.Request) -> web.StreamResponse:
    store = _store(request)
    key = request.match_info["key"]
    _verify(request, store, key)
    path = store.file_path(key)
    if not path.is_file():
        raise ApiError(404, "object not found")
    ctype = mimetypes.guess_type(key)[0] or "application/octet-stream"
    return web.FileResponse(path, headers={"Content-Type": ctype})


async def put_blob(request: web.Request) -> web.Response:
    store = _store(request)
    key = request.match_info["key"]
    _verify(request, store, key)
    q = request.query
    if q.get("content_type") and request.content_type != q["content_type"]:
        raise ApiError(403, f"Content-Type must be {q['content_type']!r} as signed")
    data = await request.read()
    if q.get("content_length") and str(len(data)) != q["content_length"]:
        raise ApiError(403, f"body is {len(data)} bytes; the URL was signed for {q['content_length']}")
    if q.get("checksum_sha256"):
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
        if digest != q["checksum_sha256"]:
            raise ApiError(400, "body does not match the signed SHA-256 checksum")
    try:
        await store.put(key, data, content_type=request.content_type)
    except BlobNotFound:  # pragma: no cover - put never raises it; kept for symmetry
        raise ApiError(404, "object not found") from None
    return web.Response(status=200)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/blob/{store}/{key:.+}", get_blob)
    app.router.add_put("/api/blob/{store}/{key:.+}", put_blob)
