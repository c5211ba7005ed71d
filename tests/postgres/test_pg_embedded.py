"""The embedded server launcher: reuse, exclusive ownership, leftovers of a crashed owner."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import asyncpg
import psutil
import pytest

from spyglass.store.config import PostgresConfig
from spyglass.store.errors import StartupError
from spyglass.store.postgres.database import PostgresStore
from spyglass.store.postgres.embedded import EmbeddedPostgres


async def _query(dsn: str, sql: str) -> object:
    """Run `sql` (several statements allowed) and return the first value of its last one."""
    conn = await asyncpg.connect(dsn)
    try:
        *setup, last = [s for s in sql.split(";") if s.strip()]
        for statement in setup:
            await conn.execute(statement)
        return await conn.fetchval(last)
    finally:
        await conn.close()


async def test_restart_reuses_the_data(cluster_copy: Path) -> None:
    server = EmbeddedPostgres(cluster_copy, durable=False)
    dsn = await server.start_async()
    try:
        await _query(dsn, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
    finally:
        await server.stop_async()
    assert not (cluster_copy / "run" / ".s.PGSQL.5432").exists(), "socket left behind after stop"

    again = EmbeddedPostgres(cluster_copy, durable=False)
    dsn = await again.start_async()
    try:
        assert again.timings is not None and again.timings.reused_data
        assert again.timings.initdb is None
        assert await _query(dsn, "SELECT v FROM kept") == 42
    finally:
        await again.stop_async()


async def test_second_owner_in_the_same_process_is_refused(cluster_copy: Path) -> None:
    first = EmbeddedPostgres(cluster_copy, durable=False)
    await first.start_async()
    try:
        second = EmbeddedPostgres(cluster_copy, durable=False)
        with pytest.raises(StartupError) as err:
            second.start()
        message = str(err.value)
        assert message.startswith("postgres at ")
        assert str(cluster_copy) in message
        assert f"pid {os.getpid()}" in message
        assert "\n" not in message
        # The refused start must not have disturbed the running server.
        assert await _query(first.dsn, "SELECT 1") == 1
    finally:
        await first.stop_async()


def test_directory_locked_by_another_process_is_refused(cluster_copy: Path) -> None:
    # A child process takes the directory lock the way a running Spyglass would, then waits.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import fcntl, os, sys
                fd = os.open({str(cluster_copy / "spyglass-postgres.lock")!r}, os.O_RDWR | os.O_CREAT)
                fcntl.flock(fd, fcntl.LOCK_EX)
                os.ftruncate(fd, 0); os.write(fd, str(os.getpid()).encode())
                print("locked", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(StartupError) as err:
            EmbeddedPostgres(cluster_copy, durable=False).start()
        assert f"pid {holder.pid}" in str(err.value)
        assert "locked by another process" in str(err.value)
        assert err.value.component == "postgres"
    finally:
        holder.communicate("")
    # Once the holder is gone, the directory is usable again.
    server = EmbeddedPostgres(cluster_copy, durable=False)
    server.start()
    server.stop()


async def test_server_left_by_a_dead_owner_is_taken_over(cluster_copy: Path) -> None:
    crashed = EmbeddedPostgres(cluster_copy, durable=False)
    dsn = await crashed.start_async()
    await _query(dsn, "CREATE TABLE survived (v int); INSERT INTO survived VALUES (7)")
    orphan_pid = crashed._pid
    # Simulate the owner dying without stopping its server: the lock goes, the server stays.
    crashed._release_lock()
    crashed._pid = None
    crashed._proc = None

    heir = EmbeddedPostgres(cluster_copy, durable=False)
    dsn = await heir.start_async()
    try:
        assert heir.timings is not None and heir.timings.took_over_orphan
        assert heir._pid != orphan_pid
        assert orphan_pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(orphan_pid, 0)
        assert await _query(dsn, "SELECT v FROM survived") == 7
    finally:
        await heir.stop_async()


async def test_restart_right_after_a_kill9_of_owner_and_server(cluster_copy: Path) -> None:
    crashed = EmbeddedPostgres(cluster_copy, durable=False)
    await crashed.start_async()
    killed = crashed._proc
    assert killed is not None
    # Everything dies at once (OOM killer, kill -9 of the group): the postmaster, unreaped for
    # now, is a zombie whose pid still answers kill(pid, 0), and its socket lock file stays.
    os.kill(killed.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while psutil.Process(killed.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the killed server did not die"
        await asyncio.sleep(0.01)
    crashed._release_lock()
    crashed._pid = None
    crashed._proc = None
    assert (cluster_copy / "run" / ".s.PGSQL.5432.lock").exists()
    try:
        heir = EmbeddedPostgres(cluster_copy, durable=False)
        dsn = await heir.start_async()
        try:
            assert await _query(dsn, "SELECT 1") == 1
        finally:
            await heir.stop_async()
    finally:
        killed.wait()


async def test_server_started_by_someone_else_is_refused(cluster_copy: Path, tmp_path: Path) -> None:
    # A server on our data dir but listening elsewhere: not ours to stop or share.
    foreign = EmbeddedPostgres(cluster_copy, durable=False)
    foreign._socket_dir = tmp_path / "elsewhere"
    await foreign.start_async()
    foreign._release_lock()
    try:
        with pytest.raises(StartupError) as err:
            EmbeddedPostgres(cluster_copy, durable=False).start()
        assert "not started by Spyglass" in str(err.value)
        assert await _query(foreign.dsn, "SELECT 1") == 1, "the foreign server must be left running"
    finally:
        foreign._acquire_lock()
        await foreign.stop_async()


async def test_store_opens_embedded_server_migrates_and_closes(cluster_copy: Path) -> None:
    store = await PostgresStore.open(PostgresConfig(url=None, embedded_dir=str(cluster_copy)), durable=False)
    try:
        assert store.embedded is not None and store.embedded.running
        assert store.migrations is not None and store.migrations.current_version >= 1
        assert await store.ping() < 1.0
        assert await store.pool.fetchval("SELECT count(*) FROM schema_migrations") >= 1
    finally:
        await store.close()
    assert not store.embedded.running
    # The lock is free again: another owner can start right away.
    server = EmbeddedPostgres(cluster_copy, durable=False)
    server.start()
    server.stop()


def test_start_time_is_measured(pg_server: EmbeddedPostgres) -> None:
    timings = pg_server.timings
    assert timings is not None
    assert timings.initdb is not None and timings.initdb > 0
    assert 0 < timings.server < timings.total
    # Generous bound: a start that takes this long is a regression worth seeing.
    assert timings.total < 20


async def test_too_long_a_path_puts_only_the_socket_in_the_temp_dir(_cluster_template: Path, tmp_path: Path) -> None:
    directory = tmp_path / ("deep" * 20) / "postgres"
    shutil.copytree(_cluster_template, directory, symlinks=True)
    server = EmbeddedPostgres(directory, durable=False)
    assert len(str(directory / "run" / ".s.PGSQL.5432")) > 107
    await server.start_async()
    try:
        assert server.socket_dir.parent == Path(tempfile.gettempdir())
        assert await _query(server.dsn, "SELECT 1") == 1
        assert (directory / "data" / "PG_VERSION").exists()
    finally:
        await server.stop_async()
    assert not server.socket_dir.exists()
