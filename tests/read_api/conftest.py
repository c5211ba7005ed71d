"""Fixtures for the read API tests: a fresh project per test on the session's Spyglass."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from langfuse.api.client import AsyncLangfuseAPI

from tests.harness import Harness, ProjectKeys


class Api:
    """Raw HTTP against the public API with one project's key (status and JSON back)."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, keys: ProjectKeys) -> None:
        self.http = http
        self.base_url = base_url
        self.keys = keys
        self.project_id = keys.project_id

    async def call(
        self, method: str, path: str, params: Any = None, json: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        async with self.http.request(
            method,
            self.base_url + path,
            params=params,
            json=json,
            headers=headers if headers is not None else self.keys.headers,
        ) as resp:
            body = await resp.json(content_type=None) if resp.content_length != 0 else None
            return resp.status, body

    async def get(self, path: str, params: Any = None) -> tuple[int, Any]:
        return await self.call("GET", path, params=params)

    async def ok(self, path: str, params: Any = None) -> Any:
        status, body = await self.get(path, params)
        assert status == 200, (status, body)
        return body

    def sdk(self) -> AsyncLangfuseAPI:
        """The installed Langfuse SDK's own API client (its models parse our responses)."""
        return AsyncLangfuseAPI(
            base_url=self.base_url,
            username=self.keys.public_key,
            password=self.keys.secret_key,
            x_langfuse_sdk_name="python",
            x_langfuse_public_key=self.keys.public_key,
            timeout=30,
        )


@pytest.fixture(scope="session")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def api(spyglass: Harness, http: aiohttp.ClientSession) -> Api:
    return Api(http, spyglass.url, await spyglass.new_project())


@pytest.fixture
async def other_api(spyglass: Harness, http: aiohttp.ClientSession) -> Api:
    """A second project's key, for isolation checks."""
    return Api(http, spyglass.url, await spyglass.new_project())
