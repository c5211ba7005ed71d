"""Versioned, idempotent ClickHouse schema migrations (single node and clustered).

Each file `migrations/NNNN_name.sql` holds `;`-separated statements with two placeholders:
`{on_cluster}` and `{replacing}`. On a single node they render to nothing and
`ReplacingMergeTree`; with `cluster_enabled` to `ON CLUSTER <name>` and
`ReplicatedReplacingMergeTree`, so a ClickHouse cluster gets the same schema.
Every statement is idempotent (IF NOT EXISTS), so two processes migrating at once are safe.
"""

from __future__ import annotations

import re
from importlib import resources

import msgspec

from spyglass.store.clickhouse.client import ClickHouse

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class Migration(msgspec.Struct, frozen=True):
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("spyglass.store.clickhouse").joinpath("migrations").iterdir():
        m = _FILE.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text("utf-8")))
    return sorted(found, key=lambda x: x.version)


def render(sql: str, *, cluster: str | None) -> list[str]:
    """Fill the placeholders and split into statements (comments dropped)."""
    sql = sql.replace("{on_cluster}", f"ON CLUSTER `{cluster}`" if cluster else "")
    sql = sql.replace("{replacing}", "ReplicatedReplacingMergeTree" if cluster else "ReplacingMergeTree")
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _ledger_sql(cluster: str | None) -> str:
    on = f"ON CLUSTER `{cluster}`" if cluster else ""
    engine = "ReplicatedMergeTree" if cluster else "MergeTree"
    return (
        f"CREATE TABLE IF NOT EXISTS schema_migrations {on} "
        "(version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        f"ENGINE = {engine} ORDER BY version"
    )


async def applied_versions(ch: ClickHouse) -> set[int]:
    rows = await ch.rows("SELECT DISTINCT version FROM schema_migrations")
    return {int(r["version"]) for r in rows}


async def migrate(ch: ClickHouse) -> list[Migration]:
    """Apply every migration not yet recorded; return the ones applied now."""
    cluster = ch.cfg.cluster_name if ch.cfg.cluster_enabled else None
    await ch.command(_ledger_sql(cluster))
    done = await applied_versions(ch)
    applied = []
    for mig in load_migrations():
        if mig.version in done:
            continue
        for statement in render(mig.sql, cluster=cluster):
            await ch.command(statement)
        await ch.command(
            "INSERT INTO schema_migrations (version, name) VALUES ({v:UInt32}, {n:String})",
            {"v": mig.version, "n": mig.name},
        )
        applied.append(mig)
    return applied


def render_all(cluster: str | None) -> str:
    """The whole schema as SQL text, for operators who apply it themselves."""
    parts = [_ledger_sql(cluster) + ";"]
    for mig in load_migrations():
        parts.append(f"-- {mig.version:04d}_{mig.name}")
        parts.extend(s + ";" for s in render(mig.sql, cluster=cluster))
    return "\n\n".join(parts) + "\n"
