"""Headless Chromium through Playwright's async API, for the UI tests.

The browser is Debian's Chromium (found or installed by tests/system_tools.py), launched with
`executable_path`: Playwright's own browser download is not used. Each page records its console
errors and uncaught exceptions; CSP violations reach the console as errors, so they are recorded too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, ConsoleMessage, Error, Page, async_playwright

# The network here is closed: keep Chromium from trying its background connections.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTH, HEIGHT = 1440, 900
TIMEOUT_MS = 20_000  # for waits and navigations unless a test says otherwise


@asynccontextmanager
async def chromium(binary: str) -> AsyncIterator[Browser]:
    """Playwright driving a headless Chromium at `binary`."""
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=binary, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            await browser.close()


@asynccontextmanager
async def recording_page(browser: Browser, errors: list[str]) -> AsyncIterator[Page]:
    """A page in a fresh context (own storage), appending every console error and page error to `errors`."""
    context = await browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    try:
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error":
                where = msg.location.get("url", "")
                errors.append(f"console: {msg.text} {where}".strip())
                print(f"[browser] {errors[-1]}")  # shown with a failing test's output

        def on_page_error(exc: Error) -> None:
            errors.append(f"pageerror: {exc.stack or exc.message}")
            print(f"[browser] {errors[-1]}")

        page.on("console", on_console)
        page.on("pageerror", on_page_error)
        yield page
    finally:
        await context.close()


async def wait_for(page: Page, expression: str, timeout: float = TIMEOUT_MS / 1000) -> None:
    """Polls until `expression` is truthy in the page.

    Not `page.wait_for_function`: that compiles the predicate with `new Function`, which the UI's
    CSP (`script-src 'self'`, no 'unsafe-eval') refuses. `page.evaluate` is not subject to it.
    """
    deadline = time.monotonic() + timeout
    while not await page.evaluate(f"!!({expression})"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout}s for {expression}")  # page errors are in the captured output
        await asyncio.sleep(0.05)


async def screenshot(page: Page, path: Path, *, dark: bool = False, width: int = WIDTH, height: int = HEIGHT) -> Path:
    """A PNG of the viewport, in the light or dark colour scheme."""
    await page.emulate_media(color_scheme="dark" if dark else "light")
    await page.set_viewport_size({"width": width, "height": height})
    await asyncio.sleep(0.2)  # let the restyle paint
    await page.screenshot(path=path)
    return path
