"""Scores that name a score config are checked against it when they are ingested."""

from __future__ import annotations

import aiohttp

from tests.harness import Harness


async def test_new_scores_follow_their_config(spyglass: Harness) -> None:
    keys = await spyglass.new_project()
    base = f"{spyglass.url}/api/public"
    async with aiohttp.ClientSession(headers=keys.headers) as http:
        async with http.post(
            f"{base}/score-configs",
            json={
                "name": "accuracy",
                "dataType": "NUMERIC",
                "minValue": 0,
                "maxValue": 1,
            },
        ) as r:
            assert r.status in (200, 201), await r.text()
            numeric = (await r.json())["id"]
        async with http.post(
            f"{base}/score-configs",
            json={
                "name": "verdict",
                "dataType": "CATEGORICAL",
                "categories": [{"label": "good", "value": 1}, {"label": "bad", "value": 0}],
            },
        ) as r:
            assert r.status in (200, 201), await r.text()
            categorical = (await r.json())["id"]
        scores = [
            {"id": "ok-num", "traceId": "t", "name": "whatever", "value": 0.5, "configId": numeric},
            {"id": "too-big", "traceId": "t", "name": "accuracy", "value": 5, "configId": numeric},
            {"id": "ok-cat", "traceId": "t", "name": "verdict", "value": "good", "configId": categorical},
            {"id": "bad-cat", "traceId": "t", "name": "verdict", "value": "meh", "configId": categorical},
            {"id": "no-config", "traceId": "t", "name": "x", "value": 1, "configId": "does-not-exist"},
            {"id": "plain", "traceId": "t", "name": "free", "value": 42},
        ]
        async with http.post(f"{base}/scores", json=scores) as r:
            assert r.status == 207  # the misfits are named at accept (tests/ingest/test_score_configs_accept.py)
    await spyglass.wait_idle()
    rows = await spyglass.stores.ch.rows(
        "SELECT id, name, value, string_value, data_type, config_id FROM scores WHERE project_id = {p:String} "
        "ORDER BY event_ts DESC LIMIT 1 BY id",
        {"p": keys.project_id},
    )
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {"ok-num", "ok-cat", "plain"}
    assert by_id["ok-num"]["name"] == "accuracy"  # the config's name wins
    assert by_id["ok-cat"]["value"] == 1.0 and by_id["ok-cat"]["string_value"] == "good"
    assert by_id["ok-cat"]["data_type"] == "CATEGORICAL" and by_id["ok-cat"]["config_id"] == categorical
    assert by_id["plain"]["value"] == 42.0
