"""End to end in headless Chromium (Playwright): traces ingested through the API, read through the UI.

Chromium is found or installed by the fixtures (tests/ui/conftest.py); without it these tests fail.
Screenshots land in $SPYGLASS_UI_SCREENSHOTS when set.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

from playwright.async_api import Page

from tests.harness import Harness, ProjectKeys
from tests.ui.browser import screenshot, wait_for
from tests.ui.sample import PNG, agent_trace, ingest, upload_png, wide_trace

PREORDER = [
    "plan-trip",
    "travel-agent",
    "search-guides",
    "draft-plan",
    "weather-api",
    "booking-api",
    "cache-miss",
    "final-answer",
    "pii-check",
]


async def open_signed_in(page: Page, url: str, keys: ProjectKeys, secret: str | None = None) -> None:
    """Opens `url` with no stored keys, then signs in through the form (which keeps the URL)."""
    await page.goto(url)
    await wait_for(page, "document.readyState === 'complete'")
    await page.evaluate("sessionStorage.clear()")
    await page.reload()
    await wait_for(page, "document.querySelector('form.signin #pk')")
    await page.evaluate(
        f"""(() => {{ const f = document.querySelector('form.signin');
        f.pk.value = {json.dumps(keys.public_key)}; f.sk.value = {json.dumps(secret or keys.secret_key)};
        f.requestSubmit(); return true; }})()"""
    )


async def click_row(page: Page, name: str) -> None:
    ok = await page.evaluate(
        f"""(() => {{ const row = [...document.querySelectorAll('.tree-row')]
        .find(r => r.querySelector('.nm').textContent === {json.dumps(name)});
        if (!row) return false; row.click(); return true; }})()"""
    )
    assert ok, f"no row named {name}"


async def selected_name(page: Page) -> str:
    return await page.evaluate("document.querySelector('.tree-row.is-selected .nm')?.textContent")


def shot_path(tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("SPYGLASS_UI_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


async def test_trace_detail_renders_an_ingested_trace(
    spyglass: Harness, page: Page, page_errors: list[str], tmp_path: Path
) -> None:
    keys = await spyglass.new_project()
    trace_id = str(uuid.uuid4())
    media_id = await upload_png(spyglass, keys, trace_id)
    await ingest(spyglass, keys, agent_trace(trace_id, f"s-{uuid.uuid4().hex[:8]}", media_id=media_id))
    deep_link = f"{spyglass.url}/project/{keys.project_id}/traces/{trace_id}"  # what get_trace_url() builds

    await open_signed_in(page, deep_link, keys)
    await wait_for(page, "document.querySelectorAll('.tree-row').length === 9")
    assert await page.evaluate("location.href") == deep_link
    assert await page.evaluate("document.querySelector('h1').textContent") == "plan-trip"
    names = await page.evaluate("[...document.querySelectorAll('.tree-row .nm')].map(n => n.textContent)")
    assert names == PREORDER
    error_rows = await page.evaluate("[...document.querySelectorAll('.tree-row.is-error .nm')].map(n => n.textContent)")
    assert error_rows == ["booking-api"]
    assert await page.evaluate("document.querySelector('.tree').getAttribute('role')") == "tree"
    header = await page.evaluate("document.querySelector('.trace-head').textContent")
    assert "helpfulness" in header and "friendly" in header and "1 error" in header
    shot = await screenshot(page, shot_path(tmp_path, "trace-detail.png"))
    assert shot.stat().st_size > 20_000

    # The trace is selected first; its input carries markup that must stay text.
    panel = await page.evaluate("document.querySelector('.panel').textContent")
    assert '<img src=x onerror="window.__xss=1">' in panel
    assert await page.evaluate("typeof window.__xss") == "undefined"
    assert await page.evaluate("document.querySelectorAll('.panel img, .panel script').length") == 0

    await click_row(page, "booking-api")
    await wait_for(page, "document.querySelector('.panel').textContent.includes('HTTP 503 from booking provider')")
    assert await page.evaluate("new URL(location.href).searchParams.get('observation')") == f"{trace_id}-tool2"

    await click_row(page, "draft-plan")
    await wait_for(page, "document.querySelector('.panel h2')?.textContent.includes('draft-plan')")
    panel = await page.evaluate("document.querySelector('.panel').textContent")
    assert "gpt-4o-mini" in panel and "976" in panel  # model and total tokens
    prompt_href = await page.evaluate(
        "[...document.querySelectorAll('.panel a')]"
        ".find(a => a.textContent === 'trip-planner v3')?.getAttribute('href')"
    )
    assert prompt_href == f"/project/{keys.project_id}/prompts/trip-planner?version=3"
    # The image reference is a button to resolve on demand, never fetched by itself.
    assert media_id in await page.evaluate("document.querySelector('.panel button.media')?.textContent || ''")
    fetched = "performance.getEntriesByType('resource').filter(e => e.name.includes('/api/public/media/')).length"
    assert await page.evaluate(fetched) == 0
    await screenshot(page, shot_path(tmp_path, "trace-generation-dark.png"), dark=True)
    await page.evaluate("document.querySelector('.panel button.media').click()")
    await wait_for(page, "document.querySelector('.panel a.media')")
    assert await page.evaluate(fetched) == 1
    link = await page.evaluate(
        "(() => { const a = document.querySelector('.panel a.media');"
        " return [a.textContent, a.href, a.target, a.rel]; })()"
    )
    assert link[0] == f"Open image/png ({len(PNG)} B)"
    assert link[2:] == ["_blank", "noopener noreferrer"]
    size = await page.evaluate(f"fetch({json.dumps(link[1])}).then(r => r.arrayBuffer()).then(b => b.byteLength)")
    assert size == len(PNG)  # the resolved link downloads the uploaded file

    # Keyboard: down to the next row, left to the parent, left again collapses it.
    await page.keyboard.press("ArrowDown")
    assert await selected_name(page) == "weather-api"
    active = await page.evaluate("document.querySelector('.tree').getAttribute('aria-activedescendant')")
    assert await page.evaluate(f"document.getElementById('{active}').classList.contains('is-selected')")
    await page.keyboard.press("ArrowLeft")
    assert await selected_name(page) == "travel-agent"
    await page.keyboard.press("ArrowLeft")
    assert await page.evaluate("[...document.querySelectorAll('.tree-row .nm')].map(n => n.textContent)") == [
        "plan-trip",
        "travel-agent",
        "pii-check",
    ]
    assert (
        await page.evaluate("document.querySelector('.tree-row.is-selected').getAttribute('aria-expanded')") == "false"
    )
    await page.keyboard.press("ArrowRight")
    assert await page.evaluate("document.querySelectorAll('.tree-row').length") == 9
    await click_row(page, "final-answer")  # an observation-level score shows with its observation
    await wait_for(page, "document.querySelector('.panel h2')?.textContent.includes('final-answer')")
    assert "grounded" in await page.evaluate("document.querySelector('.panel .chips').textContent")
    assert page_errors == []  # no script error, no CSP violation


async def test_deep_link_to_an_observation(spyglass: Harness, page: Page) -> None:
    keys = await spyglass.new_project()
    trace_id = str(uuid.uuid4())
    await ingest(spyglass, keys, agent_trace(trace_id, "s1"))
    url = f"{spyglass.url}/project/{keys.project_id}/traces/{trace_id}?observation={trace_id}-evt"
    await open_signed_in(page, url, keys)
    await wait_for(page, "document.querySelector('.tree-row.is-selected')")
    assert await selected_name(page) == "cache-miss"
    assert "WARNING" in await page.evaluate("document.querySelector('.panel h2').textContent")


async def test_ten_thousand_observations_stay_virtualized(
    spyglass: Harness, page: Page, page_errors: list[str], tmp_path: Path
) -> None:
    keys = await spyglass.new_project()
    trace_id = f"big-{uuid.uuid4().hex[:8]}"
    await ingest(spyglass, keys, wide_trace(trace_id, 10_000))
    await open_signed_in(page, f"{spyglass.url}/project/{keys.project_id}/traces/{trace_id}", keys)
    await wait_for(page, "document.querySelectorAll('.tree-row').length > 5", timeout=60)
    assert "10,000 observations" in await page.evaluate("document.querySelector('.trace-head').textContent")
    in_dom = await page.evaluate("document.querySelectorAll('.tree-row').length")
    assert in_dom < 80, f"{in_dom} rows in the DOM: the tree is not virtualized"
    assert await page.evaluate("document.querySelector('.tree-spacer').offsetHeight") == 10_001 * 30
    next_error = await page.evaluate("[...document.querySelectorAll('.tree-tools button')].map(b => b.textContent)")
    assert "Next error (11)" in next_error
    await page.evaluate("document.querySelector('.tree').focus()")
    await page.keyboard.press("End")
    await wait_for(page, "document.querySelector('.tree-row.is-selected')")
    assert await selected_name(page) == "step-9999"  # pre-order: step-9 → 99 → 999 → 9999
    assert await page.evaluate("document.querySelectorAll('.tree-row').length") < 80
    timing = await page.evaluate(
        """(() => { const el = document.querySelector('.tree'); const t0 = performance.now();
        for (let i = 0; i < 200; i++) el.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowUp', bubbles: true}));
        return (performance.now() - t0) / 200; })()"""
    )
    assert timing < 25, f"{timing:.1f} ms per key press"
    await screenshot(page, shot_path(tmp_path, "trace-10k.png"))
    assert page_errors == []


async def test_lists_and_session(spyglass: Harness, page: Page, page_errors: list[str], tmp_path: Path) -> None:
    keys = await spyglass.new_project()
    session = f"sess-{uuid.uuid4().hex[:8]}"
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    await ingest(spyglass, keys, agent_trace(first, session) + agent_trace(second, session))
    base = f"{spyglass.url}/project/{keys.project_id}"
    await open_signed_in(page, f"{base}/traces?userId=user-ana", keys)
    await wait_for(page, "document.querySelectorAll('table.grid tbody tr').length === 2")
    assert await page.evaluate("document.getElementById('f-userId').value") == "user-ana"
    row = await page.evaluate("[...document.querySelector('table.grid tbody tr').cells].map(c => c.textContent)")
    assert row[1] == "plan-trip" and row[2] == "user-ana" and row[7] == "8"
    await screenshot(page, shot_path(tmp_path, "traces.png"))

    # A filter that matches nothing shows the empty state, not an error.
    await page.evaluate(
        "(() => { const f = document.querySelector('form.filters');"
        " f.userId.value = 'nobody'; f.requestSubmit(); return 1; })()"
    )
    await wait_for(page, "document.querySelector('.empty')")
    assert await page.evaluate("new URL(location.href).searchParams.get('userId')") == "nobody"

    session_path = f"/project/{keys.project_id}/sessions/{session}"
    await page.evaluate(f"history.pushState(null, '', '{session_path}'); dispatchEvent(new PopStateEvent('popstate'))")
    await wait_for(page, "document.querySelectorAll('.cards .card').length === 2")
    links = await page.evaluate("[...document.querySelectorAll('.card header a')].map(a => a.getAttribute('href'))")
    assert f"/project/{keys.project_id}/traces/{first}" in links
    assert await page.evaluate("document.querySelector('.top [aria-current=page]').textContent") == "Sessions"

    await page.evaluate("document.querySelector('.top nav a[href$=\"/sessions\"]').click()")
    await wait_for(page, "document.querySelectorAll('table.grid tbody tr').length === 1")
    assert await page.evaluate("document.querySelector('table.grid tbody td').textContent") == session
    assert page_errors == []


async def test_sign_in_errors_and_expiry(spyglass: Harness, page: Page) -> None:
    keys = await spyglass.new_project()
    base = f"{spyglass.url}/project/{keys.project_id}/traces"
    await open_signed_in(page, base, keys, secret="sk-lf-wrong")
    await wait_for(page, "!document.querySelector('form.signin [role=alert]').hidden")
    message = await page.evaluate("document.querySelector('form.signin [role=alert]').textContent")
    assert "not accepted" in message and "Unauthorized" in message
    assert await page.evaluate("sessionStorage.length") == 0

    # A key that stops working mid-session sends the user back to sign in, with the reason.
    stale = {
        "publicKey": keys.public_key,
        "secretKey": "sk-lf-revoked",
        "projectId": keys.project_id,
        "projectName": "p",
    }
    await page.evaluate(f"sessionStorage.setItem('spyglass.auth', {json.dumps(json.dumps(stale))})")
    await page.reload()
    await wait_for(page, "document.querySelector('form.signin [role=alert]:not([hidden])')")
    assert "Signed out" in await page.evaluate("document.querySelector('form.signin [role=alert]').textContent")
    assert await page.evaluate("location.pathname") == f"/project/{keys.project_id}/traces"

    # A link into another project says so instead of showing an empty page.
    await open_signed_in(page, f"{spyglass.url}/project/someone-else/traces/t1", keys)
    await wait_for(page, "document.querySelector('main > .notice')")
    notice = await page.evaluate("document.querySelector('main > .notice').textContent")
    assert "someone-else" in notice and keys.project_id in notice

    await page.evaluate("[...document.querySelectorAll('.top button')].find(b => b.textContent === 'Sign out').click()")
    await wait_for(page, "document.querySelector('form.signin')")
    assert await page.evaluate("sessionStorage.getItem('spyglass.auth')") is None


async def test_the_error_record_catches_csp_violations_and_script_errors(
    spyglass: Harness, page: Page, page_errors: list[str]
) -> None:
    """What makes the `page_errors == []` checks above mean something: the shell's CSP blocks an
    inline script, and both that violation and an uncaught exception land in the record."""
    await page.goto(f"{spyglass.url}/")
    assert page_errors == []
    await page.evaluate(
        "document.head.append(Object.assign(document.createElement('script'), {textContent: 'window.__inline = 1'}))"
    )
    await page.evaluate("setTimeout(() => { throw new Error('thrown-by-the-page') })")
    for _ in range(100):
        if len(page_errors) >= 2:
            break
        await asyncio.sleep(0.05)
    assert await page.evaluate("typeof window.__inline") == "undefined"  # the inline script never ran
    assert any("Content Security Policy" in e for e in page_errors), page_errors
    assert any("thrown-by-the-page" in e for e in page_errors), page_errors
