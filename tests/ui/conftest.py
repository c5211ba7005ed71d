"""Fixtures for the web UI tests: an HTTP client, node, and a headless Chromium page (Playwright).

Chromium and node are found on PATH or installed with apt (tests/system_tools.py); a test
that cannot have them fails, it never skips.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from playwright.async_api import Browser, Page

from tests.system_tools import CHROMIUM, NODE, require
from tests.ui.browser import chromium, recording_page


@pytest.fixture(scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # auto_decompress off: the tests look at the bytes on the wire (gzip or not).
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        yield session


@pytest.fixture(scope="session")
def chromium_binary(pytestconfig: pytest.Config) -> str:
    """Path of Chromium: found, or installed with apt (root only); fails otherwise."""
    return require(pytestconfig, CHROMIUM)[0]


@pytest.fixture(scope="session")
def node(pytestconfig: pytest.Config) -> str:
    """Path of node: found, or installed with apt (root only); fails otherwise."""
    return require(pytestconfig, NODE)[0]


@pytest.fixture(scope="session")
async def browser(chromium_binary: str) -> AsyncIterator[Browser]:
    """One headless Chromium for the session, driven from the session's event loop."""
    async with chromium(chromium_binary) as b:
        yield b


@pytest.fixture
def page_errors() -> list[str]:
    """What the test's page reported: console errors (CSP violations among them) and uncaught exceptions."""
    return []


@pytest.fixture
async def page(browser: Browser, page_errors: list[str]) -> AsyncIterator[Page]:
    """A clean slate per test: a fresh context (no stored keys), a blank page, no recorded errors."""
    async with recording_page(browser, page_errors) as p:
        yield p
