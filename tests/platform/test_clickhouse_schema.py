from __future__ import annotations

from spyglass.store.clickhouse.client import ClickHouse
from spyglass.store.clickhouse.migrate import applied_versions, load_migrations, migrate, render_all


def test_clustered_variant_runs_on_cluster_with_replicated_engines() -> None:
    single = render_all(None)
    clustered = render_all("prod")
    assert "ON CLUSTER" not in single and "Replicated" not in single
    for table in ("traces", "observations", "scores", "ingest_log", "schema_migrations"):
        assert f"CREATE TABLE IF NOT EXISTS {table} ON CLUSTER `prod`" in clustered
    assert clustered.count("ReplicatedReplacingMergeTree") == single.count("ReplacingMergeTree")
    assert "ENGINE = ReplicatedMergeTree ORDER BY version" in clustered


async def test_migrations_are_recorded_and_idempotent(ch: ClickHouse) -> None:
    assert await migrate(ch) == []  # the session fixture applied them already
    assert await applied_versions(ch) == {m.version for m in load_migrations()}
    tables = {r["name"] for r in await ch.rows("SELECT name FROM system.tables WHERE database = currentDatabase()")}
    assert {"traces", "observations", "scores", "ingest_log", "schema_migrations"} <= tables


async def test_parameters_are_bound_not_spliced(ch: ClickHouse) -> None:
    hostile = "x' OR 1=1 --"
    assert await ch.scalar("SELECT count() FROM traces WHERE project_id = {p:String}", {"p": hostile}) == 0
    assert await ch.scalar("SELECT {p:String}", {"p": hostile}) == hostile
