"""The one typed settings object: defaults, then a YAML file, then environment variables.

Built once at start-up by the CLI and passed down; no other module reads the environment.
Langfuse's variable names are honoured where one exists (DATABASE_URL, CLICKHOUSE_URL,
REDIS_CONNECTION_STRING, LANGFUSE_S3_*, SALT, ENCRYPTION_KEY, LANGFUSE_INIT_*); every other
key can be set as SPYGLASS_<SECTION>__<KEY> (e.g. SPYGLASS_COLLECTOR__GRPC_PORT=14317).
Any problem is a ConfigError whose message is one line naming the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import msgspec
import yaml

from spyglass.collector.config import CollectorConfig
from spyglass.query.config import ApiConfig
from spyglass.store.config import (
    BlobConfig,
    BlobOptions,
    ClickHouseConfig,
    ClickHouseOptions,
    PostgresConfig,
    PostgresOptions,
    RedisConfig,
)
from spyglass.store.errors import ConfigError


class _Strict(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class BlobsSection(_Strict, frozen=True):
    events: BlobOptions = BlobOptions()
    media: BlobOptions = BlobOptions()
    exports: BlobOptions = BlobOptions()


class InitSection(_Strict, frozen=True):
    org_id: str | None = None
    org_name: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    project_retention: int | None = None
    project_public_key: str | None = None
    project_secret_key: str | None = None
    user_email: str | None = None
    user_name: str | None = None
    user_password: str | None = None


# The sections are the value objects themselves (for the stores, their *Options base without
# the keys derived from data_dir): a new setting is declared once, where it is used.
class _File(_Strict, frozen=True):
    data_dir: str = ".spyglass"
    salt: str | None = None
    encryption_key: str | None = None
    log_level: str = "info"
    log_format: str = "text"
    api: ApiConfig = ApiConfig()
    collector: CollectorConfig = CollectorConfig()
    clickhouse: ClickHouseOptions = ClickHouseOptions()
    postgres: PostgresOptions = PostgresOptions()
    redis: RedisConfig = RedisConfig()
    blob: BlobsSection = BlobsSection()
    init: InitSection = InitSection()


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Resolved settings: every path absolute, every derived default filled in."""

    data_dir: Path
    salt: str | None
    encryption_key: str | None
    log_level: str
    log_format: str
    api: ApiConfig
    collector: CollectorConfig
    clickhouse: ClickHouseConfig
    postgres: PostgresConfig
    redis: RedisConfig
    events_blob: BlobConfig
    media_blob: BlobConfig
    exports_blob: BlobConfig
    init: InitSection

    @property
    def embedded(self) -> bool:
        """True when nothing but this process is needed (chDB, embedded Postgres, no Redis)."""
        return self.clickhouse.embedded and self.postgres.embedded and self.redis.url is None


# Langfuse's names → our key paths.
_ENV_KEYS: dict[str, str] = {
    "DATABASE_URL": "postgres.url",
    "CLICKHOUSE_URL": "clickhouse.url",
    "CLICKHOUSE_USER": "clickhouse.user",
    "CLICKHOUSE_PASSWORD": "clickhouse.password",
    "CLICKHOUSE_DB": "clickhouse.database",
    "CLICKHOUSE_CLUSTER_ENABLED": "clickhouse.cluster_enabled",
    "CLICKHOUSE_CLUSTER_NAME": "clickhouse.cluster_name",
    "REDIS_CONNECTION_STRING": "redis.url",
    "REDIS_KEY_PREFIX": "redis.key_prefix",
    "SALT": "salt",
    "ENCRYPTION_KEY": "encryption_key",
    "PORT": "api.port",
    "HOSTNAME": "api.host",
    "NEXTAUTH_URL": "api.public_url",
    "LANGFUSE_LOG_LEVEL": "log_level",
    "LANGFUSE_LOG_FORMAT": "log_format",
    "SPYGLASS_DATA_DIR": "data_dir",
}
for _bucket, _section in (("EVENT_UPLOAD", "events"), ("MEDIA_UPLOAD", "media"), ("BATCH_EXPORT", "exports")):
    for _suffix, _key in (
        ("BUCKET", "bucket"),
        ("PREFIX", "prefix"),
        ("REGION", "region"),
        ("ENDPOINT", "endpoint"),
        ("ACCESS_KEY_ID", "access_key_id"),
        ("SECRET_ACCESS_KEY", "secret_access_key"),
        ("FORCE_PATH_STYLE", "force_path_style"),
    ):
        _ENV_KEYS[f"LANGFUSE_S3_{_bucket}_{_suffix}"] = f"blob.{_section}.{_key}"
for _name in InitSection.__struct_fields__:
    _ENV_KEYS[f"LANGFUSE_INIT_{_name.upper()}"] = f"init.{_name}"

# Langfuse switches that mean the opposite of our key.
_ENV_NEGATED = {
    "LANGFUSE_AUTO_CLICKHOUSE_MIGRATION_DISABLED": "clickhouse.migrate",
    "LANGFUSE_AUTO_POSTGRES_MIGRATION_DISABLED": "postgres.migrate",
}
_OWN_PREFIX = "SPYGLASS_"
_OWN_RESERVED = {"SPYGLASS_CONFIG", "SPYGLASS_DATA_DIR"}
_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off", ""}


def load_settings(
    config_path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings; `overrides` (dotted keys, e.g. from CLI flags) win over everything."""
    env = os.environ if env is None else env
    tree: dict[str, Any] = {}
    path = config_path or env.get("SPYGLASS_CONFIG")
    if path:
        tree = _read_yaml(Path(path))
    redis_url = _redis_url_from_parts(env)
    if redis_url is not None:
        _set(tree, "redis.url", redis_url)
    for name, key in _ENV_KEYS.items():
        if name in env:
            _set(tree, key, env[name])
    for name, key in _ENV_NEGATED.items():
        if name in env:
            _set(tree, key, str(env[name].strip().lower() not in _BOOL_TRUE).lower())
    for name, value in env.items():
        if name.startswith(_OWN_PREFIX) and name not in _OWN_RESERVED and name not in _ENV_KEYS:
            parts = name[len(_OWN_PREFIX) :].lower().split("__")
            _set(tree, ".".join(parts), value, source=name)
    for key, value in (overrides or {}).items():
        if value is not None:
            _set(tree, key, value)
    raw = _convert(tree)
    return _resolve(raw)


def _redis_url_from_parts(env: Mapping[str, str]) -> str | None:
    """Langfuse's REDIS_HOST / REDIS_PORT / REDIS_USERNAME / REDIS_AUTH / REDIS_TLS_ENABLED as one
    URL; REDIS_CONNECTION_STRING, when also set, wins (as upstream)."""
    host = env.get("REDIS_HOST", "").strip()
    if not host or env.get("REDIS_CONNECTION_STRING"):
        return None
    port = env.get("REDIS_PORT", "").strip() or "6379"
    if not port.isdigit():
        raise ConfigError("REDIS_PORT", f"must be a port number, not {port!r}")
    user, password = env.get("REDIS_USERNAME", ""), env.get("REDIS_AUTH", "")
    credentials = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user or password else ""
    scheme = "rediss" if env.get("REDIS_TLS_ENABLED", "").strip().lower() in _BOOL_TRUE else "redis"
    return f"{scheme}://{credentials}{host}:{port}/0"


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError("SPYGLASS_CONFIG", f"cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), f"invalid YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "the top level must be a mapping of keys")
    return data


def _set(tree: dict[str, Any], dotted: str, value: Any, source: str | None = None) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(source or dotted, f"'{part}' is not a section")
        node = child
    node[parts[-1]] = value


_PATH = re.compile(r"`\$\.?([^`]*)`")


def _convert(tree: dict[str, Any]) -> _File:
    try:
        return msgspec.convert(tree, _File, strict=False, dec_hook=None)
    except msgspec.ValidationError as exc:
        text = str(exc)
        where = _PATH.search(text)
        path = where.group(1) if where else ""
        unknown = re.search(r"unknown field `([^`]+)`", text)
        if unknown:
            key = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
            raise ConfigError(key, "unknown key") from None
        message = text.split(" - at ")[0]
        raise ConfigError(path or "config", message) from None


def _resolve(f: _File) -> Settings:
    data_dir = Path(f.data_dir).expanduser().resolve()
    if f.encryption_key is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", f.encryption_key):
        raise ConfigError("encryption_key", "must be 64 hex characters (256 bits), e.g. `openssl rand -hex 32`")
    if f.log_level.lower() not in {"trace", "debug", "info", "warn", "warning", "error"}:
        raise ConfigError("log_level", f"unknown level {f.log_level!r}")
    if f.log_format not in {"text", "json"}:
        raise ConfigError("log_format", "must be text or json")
    ch_url = f.clickhouse.url or f"chdb://{data_dir / 'clickhouse'}"
    if not re.match(r"^(chdb|https?)://", ch_url):
        raise ConfigError("clickhouse.url", "must start with chdb://, http:// or https://")
    if f.postgres.url is not None and not re.match(r"^postgres(ql)?://", f.postgres.url):
        raise ConfigError("postgres.url", "must start with postgresql:// (DATABASE_URL)")
    if f.redis.url is not None and not re.match(r"^(rediss?|unix)://", f.redis.url):
        raise ConfigError("redis.url", "must start with redis://, rediss:// or unix:// (REDIS_CONNECTION_STRING)")
    if f.postgres.url is not None and not f.salt:
        raise ConfigError("salt", "SALT is required when DATABASE_URL is set (all processes must share it)")
    if f.collector.grpc_enabled and f.api.port == f.collector.grpc_port and f.api.port != 0:
        raise ConfigError("collector.grpc_port", f"same port as api.port ({f.api.port})")

    def blob(options: BlobOptions, name: str) -> BlobConfig:
        if options.bucket is None and (options.endpoint or options.access_key_id):
            raise ConfigError(f"blob.{name}.bucket", "an S3 endpoint or key is set but no bucket")
        journal = options.journal if options.journal is not None else name == "events"
        return _derive(BlobConfig, options, local_dir=str(data_dir / "blobs" / name), journal=journal)

    return Settings(
        data_dir=data_dir,
        salt=f.salt,
        encryption_key=f.encryption_key,
        log_level=f.log_level.lower(),
        log_format=f.log_format,
        api=f.api,
        collector=f.collector,
        clickhouse=_derive(ClickHouseConfig, f.clickhouse, url=ch_url),
        postgres=_derive(PostgresConfig, f.postgres, embedded_dir=str(data_dir / "postgres")),
        redis=f.redis,
        events_blob=blob(f.blob.events, "events"),
        media_blob=blob(f.blob.media, "media"),
        exports_blob=blob(f.blob.exports, "exports"),
        init=f.init,
    )


_C = TypeVar("_C", bound=msgspec.Struct)


def _derive(config: type[_C], options: msgspec.Struct, **derived: Any) -> _C:
    """The config value object: the keys of its settings section plus what is derived from them."""
    return config(**{**msgspec.structs.asdict(options), **derived})


def documented_keys() -> set[str]:
    """Every dotted key the YAML file accepts (tests check config.example.yaml covers them)."""
    keys: set[str] = set()

    def walk(struct: type[msgspec.Struct], prefix: str) -> None:
        for field in msgspec.structs.fields(struct):
            t = field.type
            if isinstance(t, type) and issubclass(t, msgspec.Struct):
                walk(t, f"{prefix}{field.name}.")
            else:
                keys.add(f"{prefix}{field.name}")

    walk(_File, "")
    return keys
