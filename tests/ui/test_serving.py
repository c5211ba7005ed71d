"""The app shell and its assets as the query service serves them."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest

from spyglass.query.views.ui import CSP, load_bundle
from spyglass.ui import STATIC_DIR
from tests.harness import Harness

SHELL_PATHS = [
    "/",
    "/project/x/traces/y",
    "/project/x/traces",
    "/project/x/sessions",
    "/project/x/sessions/some%20session",
    "/project/x",
    "/project/x/prompts/folder/name",
]
IDENTITY = {"Accept-Encoding": "identity"}
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def _asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/ui/[^"]+)"', html)


@pytest.mark.parametrize("path", SHELL_PATHS)
async def test_deep_links_serve_the_shell(spyglass: Harness, http: aiohttp.ClientSession, path: str) -> None:
    async with http.get(spyglass.url + path, headers=IDENTITY) as r:
        assert r.status == 200
        assert r.content_type == "text/html"
        assert r.headers["Content-Security-Policy"] == CSP
        assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
        assert r.headers["Cache-Control"] == "no-cache"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        body = (await r.read()).decode()
    assert '<main id="main"' in body
    version = load_bundle().version
    assert f'<script type="module" src="/ui/{version}/app.js"></script>' in body


async def test_shell_head_and_revalidation(spyglass: Harness, http: aiohttp.ClientSession) -> None:
    async with http.head(spyglass.url + "/project/p/traces/t") as r:
        assert r.status == 200
        etag = r.headers["ETag"]
    async with http.get(spyglass.url + "/", headers={"If-None-Match": etag}) as r:
        assert r.status == 304
        assert await r.read() == b""


async def test_assets_named_by_the_shell(spyglass: Harness, http: aiohttp.ClientSession) -> None:
    async with http.get(spyglass.url + "/", headers=IDENTITY) as r:
        urls = _asset_urls((await r.read()).decode())
    names = {u.rsplit("/", 1)[1] for u in urls}
    assert {"app.js", "app.css", "logo.svg", "trace.js", "tree.js"} <= names
    for url in urls:
        async with http.get(spyglass.url + url, headers=IDENTITY) as r:
            assert r.status == 200, url
            assert r.content_type == TYPES[Path(url).suffix], url
            assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable", url
            assert "Content-Encoding" not in r.headers
            assert await r.read() == (STATIC_DIR / Path(url).name).read_bytes()


async def test_unversioned_assets_revalidate_and_compress(spyglass: Harness, http: aiohttp.ClientSession) -> None:
    url = spyglass.url + "/ui/trace.js"
    async with http.get(url, headers={"Accept-Encoding": "gzip, br"}) as r:
        assert r.status == 200
        assert r.headers["Cache-Control"] == "no-cache"
        assert r.headers["Content-Encoding"] == "gzip"
        assert r.headers["Vary"] == "Accept-Encoding"
        packed = await r.read()
        etag = r.headers["ETag"]
    original = (STATIC_DIR / "trace.js").read_bytes()
    assert gzip.decompress(packed) == original
    assert len(packed) < len(original) / 2
    async with http.get(url, headers={"If-None-Match": etag}) as r:
        assert r.status == 304
    # A stale version segment still answers the current file, but never as immutable.
    async with http.get(spyglass.url + "/ui/0000deadbeef/trace.js", headers=IDENTITY) as r:
        assert r.status == 200
        assert r.headers["Cache-Control"] == "no-cache"
        assert await r.read() == original


@pytest.mark.parametrize(
    "path",
    ["/ui/nope.js", "/ui/abc123/nope.css", "/ui/__init__.py", "/ui/index.html", "/ui/%2e%2e%2fpyproject.toml"],
)
async def test_unknown_assets_are_404(spyglass: Harness, http: aiohttp.ClientSession, path: str) -> None:
    async with http.get(spyglass.url + path) as r:
        assert r.status == 404
        assert r.content_type == "application/json"
        assert "message" in await r.json(content_type=None)


async def test_api_routes_are_not_swallowed_by_the_shell(spyglass: Harness, http: aiohttp.ClientSession) -> None:
    async with http.get(spyglass.url + "/api/public/traces") as r:
        assert r.status == 401
        assert r.content_type == "application/json"


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.script_text: list[str] = []
        self.inline_handlers: list[str] = []
        self.styles = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = [k for k, _ in attrs]
        self.inline_handlers += [f"{tag}[{k}]" for k in names if k.startswith("on") or k == "style"]
        if tag == "script":
            self.scripts.append(dict(attrs))
            self._in_script = True
        if tag == "style":
            self.styles += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text.append(data)


def test_shell_has_no_inline_script_or_style() -> None:
    scan = _Scan()
    scan.feed((STATIC_DIR / "index.html").read_text())
    assert scan.scripts, "the shell must load the app"
    assert all(s.get("src") for s in scan.scripts)
    assert "".join(scan.script_text).strip() == ""
    assert scan.inline_handlers == []
    assert scan.styles == 0


def test_bundle_version_follows_content(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text('<script type="module" src="/ui/app.js"></script>')
    (tmp_path / "app.js").write_text("export const a = 1;\n")
    (tmp_path / "notes.txt").write_text("not served")
    first = load_bundle(tmp_path)
    assert set(first.assets) == {"app.js"}
    assert f'src="/ui/{first.version}/app.js"'.encode() in first.shell.body
    (tmp_path / "app.js").write_text("export const a = 2;\n")
    second = load_bundle(tmp_path)
    assert second.version != first.version
    assert second.assets["app.js"].etag != first.assets["app.js"].etag


def test_bundle_without_shell_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "app.js").write_text("")
    with pytest.raises(FileNotFoundError, match=r"index\.html"):
        load_bundle(tmp_path)
