"""Who may call the metrics, models and media endpoints: project keys only."""

from __future__ import annotations

import base64

import aiohttp
import pytest

from spyglass.store.postgres.api_keys import ApiKeys
from spyglass.store.postgres.tenancy import Tenancy
from tests.harness import Harness

QUERY = (
    '{"view":"observations","metrics":[{"measure":"count","aggregation":"count"}],'
    '"fromTimestamp":"2025-01-01T00:00:00Z","toTimestamp":"2025-01-02T00:00:00Z"}'
)
MEDIA_BODY = {
    "traceId": "t",
    "contentType": "image/png",
    "contentLength": 3,
    "sha256Hash": base64.b64encode(b"\x00" * 32).decode(),
    "field": "input",
}

ENDPOINTS: list[tuple[str, str, dict[str, str] | None, object]] = [
    ("GET", "/api/public/metrics", {"query": QUERY}, None),
    ("GET", "/api/public/v2/metrics", {"query": QUERY}, None),
    ("GET", "/api/public/metrics/daily", None, None),
    ("GET", "/api/public/models", None, None),
    ("POST", "/api/public/models", None, {"modelName": "m", "matchPattern": "^m$", "inputPrice": 1}),
    ("GET", "/api/public/models/some-id", None, None),
    ("DELETE", "/api/public/models/some-id", None, None),
    ("POST", "/api/public/media", None, MEDIA_BODY),
    ("GET", "/api/public/media/some-media-id", None, None),
]


async def _status(spyglass: Harness, method: str, path: str, params: object, body: object, auth: str | None) -> int:
    headers = {"Authorization": auth} if auth else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{spyglass.url}{path}", params=params, json=body, headers=headers) as resp,
    ):
        assert resp.content_type == "application/json"
        return resp.status


@pytest.mark.parametrize(("method", "path", "params", "body"), ENDPOINTS)
async def test_project_key_required(
    spyglass: Harness, method: str, path: str, params: dict[str, str] | None, body: object
) -> None:
    keys = await spyglass.new_project()
    project = await Tenancy(spyglass.stores.pg).get_project(keys.project_id)
    assert project is not None
    org_key = await ApiKeys(spyglass.stores.pg, spyglass.stores.cfg.salt).create_org_key(project.org_id)
    org_auth = "Basic " + base64.b64encode(f"{org_key.public_key}:{org_key.secret_key}".encode()).decode()
    public_only = "Bearer " + keys.public_key

    assert await _status(spyglass, method, path, params, body, None) == 401
    assert await _status(spyglass, method, path, params, body, public_only) == 401
    assert await _status(spyglass, method, path, params, body, org_auth) == 403
    assert await _status(spyglass, method, path, params, body, keys.auth_header) in (200, 404)
