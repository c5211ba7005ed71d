"""What a large list count costs: the raw row count (before issue 17), the row count with a
distinct-id estimate in one scan (now), and an exact distinct count, on N ids in chDB, merged
and right after a replay (every row written twice, merges stopped).

.venv/bin/python bench/bench_counts.py --rows 2000000
"""

from __future__ import annotations

import argparse
import tempfile
import time

import chdb.session as chs

QUERIES = {
    "row count (before)": "SELECT countIf(is_deleted = 0) FROM t WHERE project_id = 'p'",
    "rows + uniqCombined64 (now)": (
        "SELECT count(), uniqCombined64(id) FROM t WHERE project_id = 'p' AND is_deleted = 0"
    ),
    "uniqExact": "SELECT uniqExact(id) FROM t WHERE project_id = 'p' AND is_deleted = 0",
}


def best_ms(session: chs.Session, sql: str, repeat: int) -> tuple[float, str]:
    best, out = float("inf"), ""
    for _ in range(repeat):
        began = time.perf_counter()
        out = session.query(sql).bytes().decode().strip()
        best = min(best, time.perf_counter() - began)
    return best * 1000, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        s = chs.Session(d)
        s.query(
            "CREATE TABLE t (project_id String, id String, start_time DateTime64(3), is_deleted UInt8) "
            "ENGINE = ReplacingMergeTree ORDER BY (project_id, toDate(start_time), id)"
        )
        s.query(
            f"INSERT INTO t SELECT 'p', lower(hex(randomString(16))), now64() - number, 0 FROM numbers({args.rows})"
        )
        s.query("OPTIMIZE TABLE t FINAL")
        for phase in ("merged", "after a replay"):
            if phase == "after a replay":
                s.query("SYSTEM STOP MERGES t")
                s.query("INSERT INTO t SELECT * FROM t")
            baseline = None
            for name, sql in QUERIES.items():
                ms, out = best_ms(s, sql, args.repeat)
                baseline = baseline or ms
                print(f"{phase:15} {name:28} {ms:8.1f} ms  ({ms / baseline:4.1f}x)  -> {out.replace(chr(9), ' ')}")


if __name__ == "__main__":
    main()
