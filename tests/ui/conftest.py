"""Fixtures for the web UI tests: an HTTP client and, where Chromium is installed, a browser page."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.ui.cdp import Page, chromium_page, find_chromium


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # auto_decompress off: the tests look at the bytes on the wire (gzip or not).
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield session


@pytest.fixture(scope="module")
async def browser_page() -> AsyncIterator[Page]:
    binary = find_chromium()
    if binary is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    async with chromium_page(binary) as page:
        yield page


@pytest.fixture
async def page(browser_page: Page) -> Page:
    """The module's browser page, with a clean slate: blank document, no keys, no recorded errors."""
    await browser_page.goto("about:blank")
    browser_page.errors.clear()
    return browser_page
