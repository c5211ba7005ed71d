"""Helpers shared by the prompt and dataset tests: a tiny authenticated HTTP client and the
real Langfuse Python SDK pointed at the in-process Spyglass."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import msgspec
from yarl import URL

from tests.harness import Harness, ProjectKeys


class Reply(msgspec.Struct):
    status: int
    body: Any

    @property
    def message(self) -> str:
        return self.body.get("message", "") if isinstance(self.body, dict) else str(self.body)


class Api:
    """Raw public-API calls with a project's Basic auth; `path` may carry percent-escapes."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self._session = session
        self._base = base

    async def call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Reply:
        url = URL(self._base + path, encoded=True)
        async with self._session.request(method, url, json=json, params=params) as resp:
            raw = await resp.read()
            body = msgspec.json.decode(raw) if raw else None
            return Reply(resp.status, body)

    async def get(self, path: str, **params: Any) -> Reply:
        return await self.call("GET", path, params={k: str(v) for k, v in params.items()} or None)

    async def post(self, path: str, body: Any) -> Reply:
        return await self.call("POST", path, json=body)

    async def patch(self, path: str, body: Any) -> Reply:
        return await self.call("PATCH", path, json=body)

    async def delete(self, path: str, **params: Any) -> Reply:
        return await self.call("DELETE", path, params={k: str(v) for k, v in params.items()} or None)


@asynccontextmanager
async def api_for(spyglass: Harness, keys: ProjectKeys) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(headers=keys.headers) as session:
        yield Api(session, spyglass.url)


def langfuse_client(spyglass: Harness, keys: ProjectKeys, **kwargs: Any) -> Any:
    from langfuse import Langfuse

    return Langfuse(public_key=keys.public_key, secret_key=keys.secret_key, base_url=spyglass.url, **kwargs)
