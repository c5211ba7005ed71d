from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from spyglass.cli.settings import documented_keys, load_settings
from spyglass.store.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_embedded_mode(tmp_path: Path) -> None:
    s = load_settings(env={"SPYGLASS_DATA_DIR": str(tmp_path)})
    assert s.embedded
    assert s.clickhouse.url == f"chdb://{tmp_path / 'clickhouse'}"
    assert s.postgres.url is None and s.postgres.embedded_dir == str(tmp_path / "postgres")
    assert s.events_blob.is_s3 is False and s.events_blob.local_dir == str(tmp_path / "blobs" / "events")
    assert s.api.port == 3000 and s.collector.grpc_port == 4317


def test_only_the_events_store_journals_by_default(tmp_path: Path) -> None:
    s = load_settings(env={"SPYGLASS_DATA_DIR": str(tmp_path)})
    assert (s.events_blob.journal, s.media_blob.journal, s.exports_blob.journal) == (True, False, False)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("blob:\n  events:\n    journal: false\n  media:\n    journal: true\n")
    s = load_settings(cfg, env={"SPYGLASS_DATA_DIR": str(tmp_path)})
    assert (s.events_blob.journal, s.media_blob.journal, s.exports_blob.journal) == (False, True, False)


def test_yaml_then_env_precedence(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("api:\n  port: 4000\nclickhouse:\n  url: http://ch:8123\n  user: a\n")
    s = load_settings(cfg, env={"CLICKHOUSE_USER": "b", "SPYGLASS_API__HOST": "0.0.0.0"})
    assert s.api.port == 4000
    assert s.api.host == "0.0.0.0"
    assert s.clickhouse.url == "http://ch:8123" and s.clickhouse.user == "b"
    assert not s.embedded


def test_langfuse_env_names(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgresql://u:p@db:5432/lf",
        "SALT": "s",
        "REDIS_CONNECTION_STRING": "redis://r:6379/0",
        "LANGFUSE_S3_EVENT_UPLOAD_BUCKET": "events",
        "LANGFUSE_S3_EVENT_UPLOAD_PREFIX": "ev/",
        "LANGFUSE_S3_EVENT_UPLOAD_ENDPOINT": "http://s3:9000",
        "LANGFUSE_S3_EVENT_UPLOAD_FORCE_PATH_STYLE": "true",
        "LANGFUSE_S3_MEDIA_UPLOAD_BUCKET": "media",
        "LANGFUSE_INIT_PROJECT_PUBLIC_KEY": "pk-lf-1",
        "LANGFUSE_AUTO_CLICKHOUSE_MIGRATION_DISABLED": "true",
        "CLICKHOUSE_CLUSTER_ENABLED": "true",
    }
    s = load_settings(env=env)
    assert s.postgres.url == "postgresql://u:p@db:5432/lf" and s.salt == "s"
    assert s.redis.url == "redis://r:6379/0"
    assert (s.events_blob.bucket, s.events_blob.prefix, s.events_blob.force_path_style) == ("events", "ev/", True)
    assert s.media_blob.bucket == "media" and s.exports_blob.bucket is None
    assert s.init.project_public_key == "pk-lf-1"
    assert s.clickhouse.migrate is False and s.clickhouse.cluster_enabled is True


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"SPYGLASS_COLLECTOR__GRPC_PORTT": "1"}, "collector.grpc_portt"),
        ({"PORT": "abc"}, "api.port"),
        ({"DATABASE_URL": "postgresql://x/y"}, "salt"),
        ({"DATABASE_URL": "mysql://x/y", "SALT": "s"}, "postgres.url"),
        ({"CLICKHOUSE_URL": "tcp://x:9000"}, "clickhouse.url"),
        ({"ENCRYPTION_KEY": "short"}, "encryption_key"),
        ({"SPYGLASS_API__PORT": "4317"}, "collector.grpc_port"),
        ({"LANGFUSE_S3_MEDIA_UPLOAD_ENDPOINT": "http://s3"}, "blob.media.bucket"),
        ({"SPYGLASS_COLLECTOR__BATCH_MAX_WAIT_MS": "0"}, "collector.batch_max_wait_ms"),
        ({"SPYGLASS_COLLECTOR__BATCH_MAX_PAYLOADS": "0"}, "collector.batch_max_payloads"),
        ({"SPYGLASS_COLLECTOR__BACKGROUND_PRIORITY": "low"}, "collector.background_priority"),
    ],
)
def test_bad_values_name_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env=env)
    assert info.value.key == key
    assert "\n" not in str(info.value)


def test_unknown_yaml_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("clickhouse:\n  urll: x\n")
    with pytest.raises(ConfigError, match=r"clickhouse\.urll: unknown key"):
        load_settings(cfg, env={})


def test_example_config_documents_every_key() -> None:
    tree = yaml.safe_load((ROOT / "config.example.yaml").read_text())
    found: set[str] = set()

    def walk(node: dict, prefix: str) -> None:
        for k, v in node.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            else:
                found.add(f"{prefix}{k}")

    walk(tree, "")
    assert found == documented_keys()
    # and the example itself loads
    assert load_settings(ROOT / "config.example.yaml", env={}).api.port == 3000


def test_redis_from_langfuses_host_port_auth(tmp_path: Path) -> None:
    base = {"SPYGLASS_DATA_DIR": str(tmp_path)}
    s = load_settings(env={**base, "REDIS_HOST": "cache", "REDIS_PORT": "6380", "REDIS_AUTH": "p@ss/word"})
    assert s.redis.url == "redis://:p%40ss%2Fword@cache:6380/0"
    s = load_settings(env={**base, "REDIS_HOST": "cache", "REDIS_USERNAME": "u", "REDIS_TLS_ENABLED": "true"})
    assert s.redis.url == "rediss://u:@cache:6379/0"
    s = load_settings(env={**base, "REDIS_HOST": "cache", "REDIS_CONNECTION_STRING": "redis://other:1/0"})
    assert s.redis.url == "redis://other:1/0"
    with pytest.raises(ConfigError, match="REDIS_PORT"):
        load_settings(env={**base, "REDIS_HOST": "cache", "REDIS_PORT": "x"})
