"""`spyglass` command line: serve, the scale-out roles, and admin commands."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import click

from spyglass.store.errors import SpyglassError

if TYPE_CHECKING:
    from spyglass.cli.settings import Settings


def run(coro_fn: Callable[[], Coroutine[Any, Any, int | None]]) -> None:
    """Run an async command; a SpyglassError is one line on stderr and exit status 1."""
    try:
        code = asyncio.run(coro_fn())
    except SpyglassError as exc:
        click.echo(f"spyglass: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code or 0)


def load(ctx: click.Context, **overrides: Any) -> Settings:
    from spyglass.cli.settings import load_settings

    try:
        return load_settings(ctx.obj.get("config"), overrides=overrides)
    except SpyglassError as exc:
        click.echo(f"spyglass: {exc}", err=True)
        sys.exit(2)


@click.group()
@click.option("--config", "-c", type=click.Path(dir_okay=False), default=None, help="YAML settings file.")
@click.pass_context
def main(ctx: click.Context, config: str | None) -> None:
    """Spyglass: an OpenTelemetry-native, Langfuse-compatible LLM observability backend."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


def _serve_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--data-dir", default=None, help="Where embedded data lives (default ./.spyglass).")(fn)
    fn = click.option("--host", default=None, help="HTTP bind address (default 127.0.0.1).")(fn)
    fn = click.option("--port", type=int, default=None, help="HTTP port (default 3000).")(fn)
    fn = click.option("--grpc-port", type=int, default=None, help="OTLP/gRPC port (default 4317).")(fn)
    return fn


def _overrides(data_dir: str | None, host: str | None, port: int | None, grpc_port: int | None) -> dict[str, Any]:
    return {"data_dir": data_dir, "api.host": host, "api.port": port, "collector.grpc_port": grpc_port}


@main.command()
@_serve_options
@click.pass_context
def serve(ctx: click.Context, data_dir: str | None, host: str | None, port: int | None, grpc_port: int | None) -> None:
    """Run everything in one process: API, UI, OTLP receivers and the ingestion worker."""
    from spyglass.cli.serve import serve_process

    settings = load(ctx, **_overrides(data_dir, host, port, grpc_port))
    run(lambda: serve_process(settings, roles={"api", "collector", "worker"}))


@main.command()
@_serve_options
@click.pass_context
def collector(
    ctx: click.Context, data_dir: str | None, host: str | None, port: int | None, grpc_port: int | None
) -> None:
    """Scale-out role: OTLP and Langfuse ingestion endpoints only (stateless; run many)."""
    from spyglass.cli.serve import serve_process

    settings = load(ctx, **_overrides(data_dir, host, port, grpc_port))
    run(lambda: serve_process(settings, roles={"collector"}))


@main.command()
@_serve_options
@click.pass_context
def api(ctx: click.Context, data_dir: str | None, host: str | None, port: int | None, grpc_port: int | None) -> None:
    """Scale-out role: the public read API and UI only (stateless; run many)."""
    from spyglass.cli.serve import serve_process

    settings = load(ctx, **_overrides(data_dir, host, port, grpc_port))
    run(lambda: serve_process(settings, roles={"api"}))


@main.command()
@click.option("--data-dir", default=None)
@click.option("--port", type=int, default=None, help="Health port (default: api.port).")
@click.pass_context
def worker(ctx: click.Context, data_dir: str | None, port: int | None) -> None:
    """Scale-out role: consume the ingestion queue and write ClickHouse (run many)."""
    from spyglass.cli.serve import serve_process

    settings = load(ctx, data_dir=data_dir, **{"api.port": port})
    run(lambda: serve_process(settings, roles={"worker"}))


@main.command()
@click.option("--data-dir", default=None)
@click.option("--print-sql", is_flag=True, help="Print the ClickHouse schema instead of applying it.")
@click.option("--clustered", is_flag=True, help="With --print-sql: the ON CLUSTER / Replicated variant.")
@click.pass_context
def migrate(ctx: click.Context, data_dir: str | None, print_sql: bool, clustered: bool) -> None:
    """Apply the ClickHouse and PostgreSQL migrations and exit."""
    settings = load(ctx, data_dir=data_dir)
    if print_sql:
        from spyglass.store.clickhouse.migrate import render_all

        cluster = settings.clickhouse.cluster_name if (clustered or settings.clickhouse.cluster_enabled) else None
        click.echo(render_all(cluster), nl=False)
        return
    from spyglass.cli.admin import migrate_all

    run(lambda: migrate_all(settings))


@main.command()
@click.option("--data-dir", default=None)
@click.option("--url", default=None, help="Base URL of a running Spyglass (default from settings).")
@click.pass_context
def health(ctx: click.Context, data_dir: str | None, url: str | None) -> None:
    """Ask a running Spyglass for its health (runs a real database query)."""
    from spyglass.cli.admin import check_health

    settings = load(ctx, data_dir=data_dir)
    run(lambda: check_health(settings, url))


@main.group()
def projects() -> None:
    """Manage projects."""


@projects.command("create")
@click.argument("name")
@click.option("--org", "org_name", default=None, help="Organization name (default: the first one).")
@click.option("--data-dir", default=None)
@click.pass_context
def projects_create(ctx: click.Context, name: str, org_name: str | None, data_dir: str | None) -> None:
    """Create a project (and print a first API key pair)."""
    from spyglass.cli.admin import create_project

    settings = load(ctx, data_dir=data_dir)
    run(lambda: create_project(settings, name, org_name))


@projects.command("list")
@click.option("--data-dir", default=None)
@click.pass_context
def projects_list(ctx: click.Context, data_dir: str | None) -> None:
    """List projects."""
    from spyglass.cli.admin import list_projects

    settings = load(ctx, data_dir=data_dir)
    run(lambda: list_projects(settings))


@main.group()
def keys() -> None:
    """Manage API keys."""


@keys.command("create")
@click.argument("project")
@click.option("--note", default=None)
@click.option("--data-dir", default=None)
@click.pass_context
def keys_create(ctx: click.Context, project: str, note: str | None, data_dir: str | None) -> None:
    """Create a key pair for PROJECT (id or name); the secret is printed once."""
    from spyglass.cli.admin import create_key

    settings = load(ctx, data_dir=data_dir)
    run(lambda: create_key(settings, project, note))


@keys.command("list")
@click.argument("project")
@click.option("--data-dir", default=None)
@click.pass_context
def keys_list(ctx: click.Context, project: str, data_dir: str | None) -> None:
    """List the keys of PROJECT (secrets are never shown)."""
    from spyglass.cli.admin import list_keys

    settings = load(ctx, data_dir=data_dir)
    run(lambda: list_keys(settings, project))


@keys.command("revoke")
@click.argument("public_key")
@click.option("--data-dir", default=None)
@click.pass_context
def keys_revoke(ctx: click.Context, public_key: str, data_dir: str | None) -> None:
    """Revoke a key by its public key."""
    from spyglass.cli.admin import revoke_key

    settings = load(ctx, data_dir=data_dir)
    run(lambda: revoke_key(settings, public_key))


@main.command()
@click.option("--project", "projects", multiple=True, help="Project id (repeatable; default: all).")
@click.option("--since", default=None, help="ISO time or a duration back from now (90m, 6h, 7d). Default 24h.")
@click.option("--until", default=None, help="ISO time or duration back from now. Default now.")
@click.option("--key", "keys", multiple=True, help="Replay exactly these raw-log keys (e.g. from dead letters).")
@click.option("--data-dir", default=None)
@click.pass_context
def replay(
    ctx: click.Context,
    projects: tuple[str, ...],
    since: str | None,
    until: str | None,
    keys: tuple[str, ...],
    data_dir: str | None,
) -> None:
    """Process raw payloads from the raw log again (idempotent: never duplicates)."""
    from datetime import UTC, datetime, timedelta

    from spyglass.cli.replay import parse_when
    from spyglass.cli.replay import replay as do_replay

    settings = load(ctx, data_dir=data_dir)
    now = datetime.now(UTC)
    start = parse_when(since, now - timedelta(hours=24))
    end = parse_when(until, now)
    run(lambda: do_replay(settings, projects, start, end, keys))


@main.group("dead-letters")
def dead_letters() -> None:
    """Payloads the worker could never process, with the reason."""


@dead_letters.command("list")
@click.option("--project", default=None)
@click.option("--limit", type=int, default=100)
@click.option("--data-dir", default=None)
@click.pass_context
def dead_letters_list(ctx: click.Context, project: str | None, limit: int, data_dir: str | None) -> None:
    """List dead letters, newest first (replay one with `spyglass replay --key KEY`)."""
    from spyglass.cli.replay import list_dead_letters

    settings = load(ctx, data_dir=data_dir)
    run(lambda: list_dead_letters(settings, project, limit))


if __name__ == "__main__":  # pragma: no cover
    main()
