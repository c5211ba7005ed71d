"""An in-process Spyglass (all roles) on loopback, for tests that talk HTTP to it.

It shares the session's chDB directory (one engine per process) and runs its own embedded
PostgreSQL and local blob stores under the session directory.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import msgspec
from aiohttp import web

from spyglass.cli.serve import ALL_ROLES, GRPC_PORT, build_app, stores_config
from spyglass.cli.settings import Settings, load_settings
from spyglass.collector.http import LIFECYCLE, STORES, WORKER
from spyglass.collector.receivers.bodies import RUNNER_KWARGS
from spyglass.store.postgres.api_keys import ApiKeys
from spyglass.store.postgres.tenancy import Tenancy
from spyglass.store.stores import Stores


class ProjectKeys(msgspec.Struct, frozen=True):
    project_id: str
    public_key: str
    secret_key: str

    @property
    def auth_header(self) -> str:
        token = base64.b64encode(f"{self.public_key}:{self.secret_key}".encode()).decode()
        return f"Basic {token}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": self.auth_header}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


T = TypeVar("T")


def wait_until(check: Callable[[], T], *, timeout: float = 30.0, every: float = 0.1, what: str = "the condition") -> T:
    """Call `check` until it returns something truthy, and return that; fail after `timeout` s.

    For waiting on something that happens in the background (a commit, a notification): poll
    it with a deadline rather than sleeping a fixed time and hoping it was long enough.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s (last check gave {result!r})")
        time.sleep(every)


async def wait_until_async(
    check: Callable[[], T | Awaitable[T]], *, timeout: float = 30.0, every: float = 0.05, what: str = "the condition"
) -> T:
    """`wait_until` for the event loop: `check` may be a plain function or a coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s (last check gave {result!r})")
        await asyncio.sleep(every)


class Harness:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = f"http://127.0.0.1:{settings.api.port}"
        self.announcements: list[str] = []
        self.app: web.Application | None = None
        self._runner: web.AppRunner | None = None
        self._org_id: str | None = None
        self._counter = 0

    @classmethod
    def configure(cls, data_dir: Path, ch_url: str, **env: str) -> Harness:
        base = {
            "SPYGLASS_DATA_DIR": str(data_dir),
            "CLICKHOUSE_URL": ch_url,
            "PORT": str(free_port()),
            "SPYGLASS_COLLECTOR__GRPC_PORT": str(free_port()),
            "SPYGLASS_COLLECTOR__BATCH_MAX_WAIT_MS": "50",
        }
        base.update(env)
        return cls(load_settings(env=base))

    async def start(self) -> None:
        cfg = msgspec.structs.replace(stores_config(self.settings, self.url), durable_postgres=False)
        self.app = build_app(
            self.settings, ALL_ROLES, public_url=self.url, announce=self.announcements.append, stores_cfg=cfg
        )
        self._runner = web.AppRunner(self.app, handle_signals=False, shutdown_timeout=5, **RUNNER_KWARGS)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.settings.api.port)
        await site.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def stores(self) -> Stores:
        assert self.app is not None
        return self.app[STORES]

    @property
    def grpc_target(self) -> str:
        assert self.app is not None
        return f"127.0.0.1:{self.app[GRPC_PORT]}"

    @property
    def worker(self):  # type: ignore[no-untyped-def]
        assert self.app is not None
        return self.app[WORKER]

    async def new_project(self, name: str | None = None) -> ProjectKeys:
        tenancy = Tenancy(self.stores.pg)
        if self._org_id is None:
            org = await tenancy.create_organization(f"test-org-{time.time_ns()}")
            self._org_id = org.id
        self._counter += 1
        project = await tenancy.create_project(self._org_id, name or f"project-{self._counter}-{time.time_ns()}")
        key = await ApiKeys(self.stores.pg, self.stores.cfg.salt).create_key(project.id)
        return ProjectKeys(project.id, key.public_key, key.secret_key)

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Until every accepted payload is committed (queue empty, nothing in flight)."""
        assert self.app is not None
        lifecycle = self.app[LIFECYCLE]
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            if lifecycle.in_flight == 0 and await self.stores.queue.backlog() == 0:
                quiet += 1
                if quiet >= 3:
                    return
            else:
                quiet = 0
            await asyncio.sleep(0.03)
        raise TimeoutError(f"ingestion still busy after {timeout}s (backlog {await self.stores.queue.backlog()})")
