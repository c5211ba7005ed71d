"""The web UI: one HTML shell for `/` and every deep link under `/project/...`, assets under `/ui/`.

The shell is the same document for every client-side route (the Langfuse SDK's `get_trace_url()`
builds `/project/{projectId}/traces/{traceId}`); the browser routes from there and reads the
public API with the key pair the user signs in with. The files are read once, at startup, and
answered from memory (gzipped when the client takes it). The shell names its assets under
`/ui/{version}/...`, where the version is a hash of every file, so those URLs never change content
and are cached for a year; `/ui/{name}` answers the current file with revalidation.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from spyglass.collector.http import ApiError
from spyglass.ui import STATIC_DIR

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
SHELL_FILE = "index.html"

# Self only: no inline script or style, no framing. Media opens in a new tab, never embedded.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SHELL_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, content_type: str) -> Asset:
        packed = gzip.compress(body, 9, mtime=0)
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        return cls(body, packed if len(packed) < len(body) * 0.9 else None, content_type, etag)


@dataclass(frozen=True, slots=True)
class Bundle:
    version: str
    shell: Asset
    assets: dict[str, Asset]


def load_bundle(directory: Path = STATIC_DIR) -> Bundle:
    """Every servable file of `directory` (flat: the wheel ships no subfolders), read once."""
    files = {
        p.name: p.read_bytes()
        for p in sorted(directory.iterdir())
        if p.is_file() and p.suffix in CONTENT_TYPES and not p.name.startswith(".")
    }
    if SHELL_FILE not in files:
        raise FileNotFoundError(f"the UI shell {SHELL_FILE} is missing from {directory}")
    index = files.pop(SHELL_FILE)
    digest = hashlib.sha256()
    for name, body in sorted(files.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(body).digest())
    version = digest.hexdigest()[:12]
    shell = index.replace(b'="/ui/', f'="/ui/{version}/'.encode())
    assets = {name: Asset.of(body, CONTENT_TYPES[Path(name).suffix]) for name, body in files.items()}
    return Bundle(version, Asset.of(shell, CONTENT_TYPES[".html"]), assets)


UI_BUNDLE: web.AppKey[Bundle] = web.AppKey("ui_bundle", Bundle)


def _answer(
    request: web.Request, asset: Asset, cache_control: str, extra: dict[str, str] | None = None
) -> web.Response:
    headers = {
        "Cache-Control": cache_control,
        "ETag": asset.etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if extra:
        headers.update(extra)
    wanted = request.headers.get("If-None-Match", "")
    if wanted and (wanted.strip() == "*" or asset.etag in wanted):
        return web.Response(status=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", "").lower():
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    headers["Content-Type"] = asset.content_type
    return web.Response(body=body, headers=headers)


async def shell(request: web.Request) -> web.Response:
    return _answer(request, request.app[UI_BUNDLE].shell, REVALIDATE, SHELL_HEADERS)


async def asset(request: web.Request) -> web.Response:
    bundle = request.app[UI_BUNDLE]
    name = request.match_info["name"]
    found = bundle.assets.get(name)
    if found is None:
        raise ApiError(404, f"No such UI file: {name}")
    pinned = request.match_info.get("version") == bundle.version
    return _answer(request, found, IMMUTABLE if pinned else REVALIDATE)


def add_routes(app: web.Application) -> None:
    app[UI_BUNDLE] = load_bundle()
    app.router.add_get("/", shell)
    app.router.add_get("/project/{projectId}", shell)
    app.router.add_get("/project/{projectId}/{tail:.*}", shell)
    app.router.add_get("/ui/{name}", asset)
    app.router.add_get("/ui/{version}/{name}", asset)
