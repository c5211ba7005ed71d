"""README.md's API table ("What it serves") against the routes the app registers, both ways.

The app is composed by `spyglass.cli.serve.build_app` exactly as `spyglass serve` composes it
(all roles), but never started: building it only mounts the route groups; the stores, the worker
and the gRPC server are cleanup contexts that run at startup, which never comes.

Reading the table: every code span of the form `METHODS /path` is an endpoint, METHODS being
one or more of GET, POST, PUT, PATCH, DELETE joined by "/" (`GET/POST /models`). Other code spans
(query parameters, field names) are prose. Paths are relative to `/api/public`, except in the
row whose area starts with "outside", where they are absolute. Path parameters compare by
position, not name (`{id}` in the README matches `{traceId}` in the app).

Documented exceptions, i.e. what the table names that is not an aiohttp route:
- OTLP/gRPC `TraceService/Export`, `LogsService/Export` and `MetricsService/Export`, served by the gRPC
  server on its own port (`collector.grpc_port`).
HEAD routes are not listed in the README: aiohttp adds one to every GET route.
"""

from __future__ import annotations

import re
from pathlib import Path

from spyglass.cli.serve import ALL_ROLES, build_app
from spyglass.cli.settings import load_settings
from spyglass.collector.receivers.otlp_grpc import EXPORT_METHODS

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "/api/public"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ENDPOINT = re.compile(rf"^((?:{'|'.join(METHODS)})(?:/(?:{'|'.join(METHODS)}))*) (/\S*)$")
# Named in the table, served by something other than the aiohttp app (see the module docstring).
NOT_HTTP_ROUTES = {"TraceService/Export", "LogsService/Export", "MetricsService/Export"}

Route = tuple[str, str]  # (method, path with parameters normalised)


def normalise(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def readme_table(text: str) -> list[tuple[str, str]]:
    """(area, endpoints cell) for each row of the table under "## What it serves"."""
    section = re.search(r"^## What it serves\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, 'README.md has no "## What it serves" section'
    lines = [line.strip() for line in section.group(1).splitlines() if line.strip().startswith("|")]
    assert len(lines) > 2, "the API table is missing"
    _header, separator, *body = lines
    assert re.fullmatch(r"\|[\s:|-]+\|", separator), f"not a table separator: {separator!r}"
    rows = []
    for line in body:
        area, endpoints = line.strip("|").split("|", 1)
        rows.append((area.strip(), endpoints.strip()))
    return rows


def documented_routes(text: str) -> tuple[set[Route], set[str]]:
    """The table's endpoints, and the non-HTTP exceptions it names."""
    routes: set[Route] = set()
    exceptions: set[str] = set()
    for area, cell in readme_table(text):
        absolute = area.lower().startswith("outside")
        for span in re.findall(r"`([^`]+)`", cell):
            if span in NOT_HTTP_ROUTES:
                exceptions.add(span)
                continue
            match = ENDPOINT.match(span)
            if match is None:
                continue
            methods, path = match.groups()
            full = path if absolute else PREFIX + path
            for method in methods.split("/"):
                route = (method, normalise(full))
                assert route not in routes, f"{method} {full} is listed twice in the README's API table"
                routes.add(route)
    return routes, exceptions


def registered_routes(tmp_path: Path) -> set[Route]:
    settings = load_settings(env={"SPYGLASS_DATA_DIR": str(tmp_path / "data")})
    app = build_app(settings, ALL_ROLES, public_url="http://127.0.0.1:3000", announce=lambda _: None)
    routes: set[Route] = set()
    for route in app.router.routes():
        assert route.resource is not None
        routes.add((route.method, normalise(route.resource.canonical)))
    heads = {path for method, path in routes if method == "HEAD"}
    gets = {path for method, path in routes if method == "GET"}
    assert heads <= gets, f"HEAD routes without a GET, which the README would have to list: {heads - gets}"
    return {r for r in routes if r[0] != "HEAD"}


def _show(routes: set[Route]) -> str:
    return "\n".join(f"  {m} {p}" for p, m in sorted((p, m) for m, p in routes))


def test_every_documented_endpoint_is_served(tmp_path: Path) -> None:
    documented, _ = documented_routes((ROOT / "README.md").read_text())
    missing = documented - registered_routes(tmp_path)
    assert not missing, "README.md's API table lists endpoints the app does not register:\n" + _show(missing)


def test_every_served_route_is_documented(tmp_path: Path) -> None:
    documented, _ = documented_routes((ROOT / "README.md").read_text())
    registered = registered_routes(tmp_path)
    undocumented = registered - documented
    assert not undocumented, "routes missing from README.md's API table:\n" + _show(undocumented)
    public = {r for r in registered if r[1].startswith(PREFIX + "/")}
    assert len(public) > 50, f"only {len(public)} /api/public routes found: is the app composed as serve does?"


def test_the_non_http_exceptions_are_what_the_readme_names() -> None:
    _, exceptions = documented_routes((ROOT / "README.md").read_text())
    assert exceptions == NOT_HTTP_ROUTES, "the README's table no longer names every OTLP/gRPC Export method"
    served = {method.rsplit(".", 1)[1] for method in EXPORT_METHODS}
    assert served == NOT_HTTP_ROUTES, served


def test_the_parser_reads_the_table_forms() -> None:
    text = (
        "## What it serves\n\n| area | endpoints |\n|---|---|\n"
        "| models | `GET/POST /models`, `GET/PUT/DELETE /models/{id}`, `?page=1`, `toolNames` |\n"
        "| ingestion | `POST /otel/v1/traces`, OTLP/gRPC `TraceService/Export` |\n"
        "| outside `/api/public` | `POST /v1/traces`, `GET /ui/{version}/{name}` |\n\n## Next\n\n`GET /not-a-row`\n"
    )
    routes, exceptions = documented_routes(text)
    assert routes == {
        ("GET", "/api/public/models"),
        ("POST", "/api/public/models"),
        ("GET", "/api/public/models/{}"),
        ("PUT", "/api/public/models/{}"),
        ("DELETE", "/api/public/models/{}"),
        ("POST", "/api/public/otel/v1/traces"),
        ("POST", "/v1/traces"),
        ("GET", "/ui/{}/{}"),
    }
    assert exceptions == {"TraceService/Export"}
