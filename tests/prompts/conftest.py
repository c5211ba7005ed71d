from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.harness import Harness, ProjectKeys
from tests.prompts.support import Api, api_for


@pytest.fixture
async def keys(spyglass: Harness) -> ProjectKeys:
    """A fresh project per test, so tests never see each other's prompts."""
    return await spyglass.new_project()


@pytest.fixture
async def api(spyglass: Harness, keys: ProjectKeys) -> AsyncIterator[Api]:
    async with api_for(spyglass, keys) as client:
        yield client
