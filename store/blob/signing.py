"""Signed URLs for the local blob store, served by Spyglass's own HTTP server.

URL format (all query values URL-encoded, key path segments percent-encoded):

    {public_base_url}/api/blob/{store_name}/{key}?expires=<unix seconds>&method=GET|PUT
        [&content_type=<type>][&content_length=<bytes>][&checksum_sha256=<base64>]&sig=<hex>

`sig` is the lowercase hex HMAC-SHA256, under the secret given at construction, of these
fields joined by "\\n":

    spyglass-blob-v1, method, store_name, key, expires, content_type, content_length, checksum_sha256

(absent optional fields are empty strings; keys and store names cannot contain "\\n", so the
join is unambiguous). The optional fields only appear on PUT URLs; the handler must then check
that the request's Content-Type, body length and SHA-256 match them. A URL is valid until
`expires` inclusive. The handler can pass the decoded path key and the query mapping straight
to `verify_request()`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from urllib.parse import quote, urlencode

_SCHEME = b"spyglass-blob-v1"
_STORE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
METHODS = ("GET", "PUT")


def check_store_name(name: str) -> str:
    if not _STORE_NAME.match(name):
        raise ValueError(f"blob store name must match {_STORE_NAME.pattern}, got {name!r}")
    return name


def _opt(value: object) -> str:
    return "" if value is None else str(value)


class LocalUrlSigner:
    """Builds and verifies the signed URLs above. Holds only the secret and the public base URL."""

    def __init__(self, secret: bytes, public_base_url: str) -> None:
        if len(secret) < 16:
            raise ValueError("the blob signing secret must be at least 16 bytes")
        self._secret = bytes(secret)
        self.public_base_url = public_base_url.rstrip("/")

    def signature(
        self,
        store_name: str,
        key: str,
        method: str,
        expires: int,
        *,
        content_type: str | None = None,
        content_length: int | str | None = None,
        checksum_sha256: str | None = None,
    ) -> str:
        fields = (method, store_name, key, str(expires), content_type, content_length, checksum_sha256)
        message = b"\n".join([_SCHEME, *(_opt(f).encode("utf-8") for f in fields)])
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def build(
        self,
        store_name: str,
        key: str,
        method: str,
        expires: int,
        *,
        content_type: str | None = None,
        content_length: int | None = None,
        checksum_sha256: str | None = None,
    ) -> str:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}")
        params: list[tuple[str, str]] = [("expires", str(expires)), ("method", method)]
        if content_type is not None:
            params.append(("content_type", content_type))
        if content_length is not None:
            params.append(("content_length", str(int(content_length))))
        if checksum_sha256 is not None:
            params.append(("checksum_sha256", checksum_sha256))
        sig = self.signature(
            store_name,
            key,
            method,
            expires,
            content_type=content_type,
            content_length=content_length,
            checksum_sha256=checksum_sha256,
        )
        params.append(("sig", sig))
        path = f"/api/blob/{quote(store_name, safe='')}/{quote(key, safe='/')}"
        return f"{self.public_base_url}{path}?{urlencode(params)}"

    def verify(
        self,
        store_name: str,
        key: str,
        method: str,
        expires: int | str,
        sig: str,
        now: float | None = None,
        *,
        content_type: str | None = None,
        content_length: int | str | None = None,
        checksum_sha256: str | None = None,
    ) -> bool:
        """True only for an unexpired URL whose fields are exactly the signed ones."""
        try:
            expires_at = int(expires)
        except (TypeError, ValueError):
            return False
        if (time.time() if now is None else now) > expires_at:
            return False
        if not isinstance(sig, str) or not sig.isascii():
            return False
        expected = self.signature(
            store_name,
            key,
            method,
            expires_at,
            content_type=content_type,
            content_length=content_length,
            checksum_sha256=checksum_sha256,
        )
        return hmac.compare_digest(expected, sig.lower())

    def verify_request(
        self, store_name: str, key: str, http_method: str, query: Mapping[str, str], now: float | None = None
    ) -> bool:
        """Check an incoming request: its method must be the signed one, and its query must verify."""
        method = query.get("method", "")
        if method != http_method.upper() or method not in METHODS:
            return False
        return self.verify(
            store_name,
            key,
            method,
            query.get("expires", ""),
            query.get("sig", ""),
            now,
            content_type=query.get("content_type"),
            content_length=query.get("content_length"),
            checksum_sha256=query.get("checksum_sha256"),
        )
