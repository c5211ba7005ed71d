"""One project per module filled with the seeded dataset, and small HTTP helpers."""

from __future__ import annotations

from typing import Any

import aiohttp
import msgspec
import pytest

from tests.harness import Harness, ProjectKeys
from tests.metrics.data import Dataset, build, insert


class Loaded(msgspec.Struct):
    keys: ProjectKeys
    data: Dataset
    other: ProjectKeys


@pytest.fixture(scope="module")
async def loaded(spyglass: Harness) -> Loaded:
    keys = await spyglass.new_project()
    other = await spyglass.new_project()
    data = build(keys.project_id, seed=7)
    await insert(spyglass.stores.ch, data)
    # Another project with the very same row ids and different values: never visible to `keys`.
    await insert(spyglass.stores.ch, build(other.project_id, seed=99))
    return Loaded(keys=keys, data=data, other=other)


async def get(spyglass: Harness, keys: ProjectKeys | None, path: str, **params: Any) -> tuple[int, Any]:
    headers = keys.headers if keys is not None else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{spyglass.url}{path}", params=params, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def metrics(spyglass: Harness, keys: ProjectKeys, query: dict[str, Any], version: str = "v1") -> list[dict]:
    path = "/api/public/metrics" if version == "v1" else "/api/public/v2/metrics"
    status, body = await get(spyglass, keys, path, query=msgspec.json.encode(query).decode())
    assert status == 200, body
    return body["data"]


async def metrics_error(spyglass: Harness, keys: ProjectKeys, query: Any, version: str = "v1") -> tuple[int, str]:
    path = "/api/public/metrics" if version == "v1" else "/api/public/v2/metrics"
    raw = query if isinstance(query, str) else msgspec.json.encode(query).decode()
    status, body = await get(spyglass, keys, path, query=raw)
    return status, body.get("message", "")
