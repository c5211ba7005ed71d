"""The paging engine's paths: recent windows, sparse filters, deep pages, large counts."""

from __future__ import annotations

import time

import pytest

from spyglass.query.reads import paging
from tests.harness import Harness
from tests.read_api.conftest import Api
from tests.read_api.seed import BASE, insert, observation, score, trace, unique

# Ages spread over every window (1 day, 7, 31, beyond), newest first.
AGES = [60, 3_600, 2 * 86_400, 5 * 86_400, 20 * 86_400, 90 * 86_400, 400 * 86_400]


async def seed_recent(spyglass: Harness, api: Api) -> list[str]:
    """One trace (with an observation and a score) per age; ids newest first."""
    now = time.time()
    pid = api.project_id
    ids = [unique(f"age{i}") for i in range(len(AGES))]
    rows = []
    for tid, age in zip(ids, AGES, strict=True):
        at = now - age - BASE
        rows += [
            trace(pid, tid, at=at, user_id="even" if AGES.index(age) % 2 == 0 else "odd"),
            observation(pid, f"{tid}-o", tid, start=at, end=at + 1),
            score(pid, f"{tid}-s", "q", at=at + 1, trace_id=tid, value=1.0),
        ]
    await insert(spyglass.stores.ch, *rows)
    return ids


async def test_pages_walk_across_time_windows(spyglass: Harness, api: Api) -> None:
    ids = await seed_recent(spyglass, api)
    seen: list[str] = []
    for page in range(1, 5):
        body = await api.ok("/api/public/traces", {"limit": 2, "page": page})
        assert body["meta"]["totalItems"] == len(ids)
        seen.extend(t["id"] for t in body["data"])
    assert seen == ids
    # A sparse filter still finds its rows in every window.
    odd = await api.ok("/api/public/traces", {"userId": "odd"})
    assert [t["id"] for t in odd["data"]] == ids[1::2]
    # Observations and scores take the same path.
    v1 = await api.ok("/api/public/observations", {"limit": 3, "page": 2})
    assert [o["id"] for o in v1["data"]] == [f"{t}-o" for t in ids[3:6]]
    scores = await api.ok("/api/public/v2/scores", {"limit": 4})
    assert [s["id"] for s in scores["data"]] == [f"{t}-s" for t in ids[:4]]


async def test_cursors_walk_across_time_windows(spyglass: Harness, api: Api) -> None:
    ids = await seed_recent(spyglass, api)
    client = api.sdk()
    seen: list[str] = []
    cursor = None
    while True:
        page = await client.observations.get_many(limit=2, cursor=cursor)
        seen.extend(o.id for o in page.data)
        if page.meta.cursor is None:
            break
        cursor = page.meta.cursor
    assert seen == [f"{t}-o" for t in ids]
    seen, cursor = [], None
    while True:
        scores = await client.scores.get_many(limit=3, cursor=cursor)
        seen.extend(s.id for s in scores.data)
        if scores.meta.cursor is None:
            break
        cursor = scores.meta.cursor
    assert seen == [f"{t}-s" for t in ids]


async def test_explicit_window_and_old_order(spyglass: Harness, api: Api) -> None:
    ids = await seed_recent(spyglass, api)
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 10 * 86_400))
    recent = await api.ok("/api/public/traces", {"fromTimestamp": since})
    assert [t["id"] for t in recent["data"]] == ids[:4] and recent["meta"]["totalItems"] == 4
    oldest_first = await api.ok("/api/public/traces", {"orderBy": "timestamp.asc", "limit": 3})
    assert [t["id"] for t in oldest_first["data"]] == ids[::-1][:3]


async def test_deep_pages_match_shallow_ones(spyglass: Harness, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = await seed_recent(spyglass, api)
    shallow = [t["id"] for t in (await api.ok("/api/public/traces", {"limit": 2, "page": 3}))["data"]]
    monkeypatch.setattr(paging, "DEEP_PAGE_ROWS", 2)
    deep = [t["id"] for t in (await api.ok("/api/public/traces", {"limit": 2, "page": 3}))["data"]]
    assert deep == shallow == ids[4:6]
    deep_obs = await api.ok("/api/public/observations", {"limit": 2, "page": 4})
    assert [o["id"] for o in deep_obs["data"]] == [f"{ids[6]}-o"]


async def test_large_counts_skip_the_distinct_pass(
    spyglass: Harness, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await seed_recent(spyglass, api)
    monkeypatch.setattr(paging, "EXACT_COUNT_LIMIT", 1)
    body = await api.ok("/api/public/traces")
    assert body["meta"]["totalItems"] == len(ids)
    await api.call("DELETE", f"/api/public/traces/{ids[0]}")
    body = await api.ok("/api/public/traces")
    assert body["meta"]["totalItems"] == len(ids) - 1 and body["data"][0]["id"] == ids[1]


async def test_versions_awaiting_a_merge_count_once(spyglass: Harness, api: Api) -> None:
    pid = api.project_id
    tid = unique("t")
    await insert(
        spyglass.stores.ch,
        trace(pid, tid, name="v1", event_ts=1.0),
        trace(pid, tid, name="v2", event_ts=2.0),
        trace(pid, tid, name="v3", event_ts=3.0),
    )
    body = await api.ok("/api/public/traces")
    assert [t["name"] for t in body["data"]] == ["v3"] and body["meta"]["totalItems"] == 1


@pytest.mark.parametrize("limit", [paging.EXACT_COUNT_LIMIT, 1], ids=["distinct", "large"])
async def test_user_and_session_counts_equal_the_general_count(
    spyglass: Harness, api: Api, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    """userId/sessionId lists count in one filtered scan; the same filter through `filter` takes
    the general path. Both give the same totals, with versions awaiting a merge and tombstones."""
    monkeypatch.setattr(paging, "EXACT_COUNT_LIMIT", limit)
    pid = api.project_id
    now = time.time() - BASE
    ids = [unique("sel") for _ in range(4)]
    rows = [trace(pid, tid, at=now - 60 * i, user_id="u-sel", session_id="s-sel") for i, tid in enumerate(ids)]
    rows.append(trace(pid, unique("other"), at=now, user_id="u-other", session_id="s-other"))
    await insert(spyglass.stores.ch, *rows)
    # Two more versions of the first trace, each its own insert (one insert block would be
    # collapsed on insert) so they await a merge.
    for n in (2, 3):
        await insert(spyglass.stores.ch, trace(pid, ids[0], at=now, user_id="u-sel", session_id="s-sel", name=f"v{n}"))

    async def totals() -> list[int]:
        out = []
        for column, value in (("userId", "u-sel"), ("sessionId", "s-sel")):
            general = f'[{{"type":"string","column":"{column}","operator":"=","value":"{value}"}}]'
            for params in ({column: value}, {"filter": general}):
                out.append((await api.ok("/api/public/traces", params))["meta"]["totalItems"])
        return out

    # Versions awaiting a merge count once, below the limit and past it.
    assert await totals() == [4] * 4
    await api.call("DELETE", f"/api/public/traces/{ids[0]}")
    assert await totals() == [3] * 4
    assert (await api.ok("/api/public/traces", {"userId": "nobody"}))["meta"]["totalItems"] == 0


async def test_a_replay_past_the_exact_limit_does_not_double_counts(
    spyglass: Harness, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replay writes every row again; until a merge, a count past the exact-count limit must
    still count each row once (it counted each twice)."""
    monkeypatch.setattr(paging, "EXACT_COUNT_LIMIT", 10)
    pid = api.project_id
    now = time.time() - BASE
    tids = [unique("rp") for _ in range(40)]
    rows = []
    for i, tid in enumerate(tids):
        rows += [trace(pid, tid, at=now - i), observation(pid, f"{tid}-o", tid, start=now - i, end=now - i + 1)]
    await insert(spyglass.stores.ch, *rows)
    before = [(await api.ok(path))["meta"]["totalItems"] for path in ("/api/public/traces", "/api/public/observations")]
    assert before == [40, 40]
    await insert(spyglass.stores.ch, *rows)  # the replay: the same rows, a separate insert
    after = [(await api.ok(path))["meta"]["totalItems"] for path in ("/api/public/traces", "/api/public/observations")]
    assert after == [40, 40]
    last_page = await api.ok("/api/public/observations", {"limit": 10, "page": 4})
    assert len(last_page["data"]) == 10
