"""`spyglass replay` runs the live worker's checks: a score whose config no longer admits it
stays out, and the dead-letter list says which score and why."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.platform.test_cli_serve import _admin, _chdb, _env, _printed_keys, _start, _stop


@pytest.mark.slow
def test_replay_leaves_out_a_score_its_config_now_refuses(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir)
    s = _start(env)
    try:
        auth = _printed_keys(s.output)
        base = f"{s.url}/api/public"
        r = requests.post(
            f"{base}/score-configs",
            json={"name": "accuracy", "dataType": "NUMERIC", "minValue": 0, "maxValue": 10},
            auth=auth,
            timeout=10,
        )
        assert r.status_code in (200, 201), r.text
        config_id = r.json()["id"]
        scores = [
            {"id": "fits-then", "traceId": "t", "name": "accuracy", "value": 7, "configId": config_id},
            {"id": "plain", "traceId": "t", "name": "free", "value": 42},
        ]
        r = requests.post(f"{base}/scores", json=scores, auth=auth, timeout=10)
        assert r.status_code == 202, r.text
        deadline = time.monotonic() + 30
        while requests.get(f"{base}/scores/fits-then", auth=auth, timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the score never became visible"
            time.sleep(0.2)
        # The live worker stored the score while its config admitted it; the config is archived since.
        r = requests.patch(f"{base}/score-configs/{config_id}", json={"isArchived": True}, auth=auth, timeout=10)
        assert r.status_code == 200, r.text
    finally:
        assert _stop(s) == 0
    _chdb(data_dir, "TRUNCATE TABLE scores")

    out = _admin(env, "replay", "--since", "1h")
    assert "replayed 1 payloads" in out.stdout, out.stdout + out.stderr
    assert "1 dead letters" in out.stdout
    assert out.returncode == 1  # a dead letter is worth the operator's attention
    assert _chdb(data_dir, "SELECT id FROM scores FINAL ORDER BY id") == [["plain"]]
    letters = _admin(env, "dead-letters", "list")
    assert letters.returncode == 0, letters.stderr
    assert f"score fits-then left out (the payload's other rows are stored): score config {config_id} is archived" in (
        letters.stdout
    )
