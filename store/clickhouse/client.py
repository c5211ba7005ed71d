"""Async access to ClickHouse through clickhouse-connect, embedded (chdb://) or server (http://).

The same SQL runs on both. clickhouse-connect's clients are synchronous, and chDB keeps query
parameters per connection, so every executor thread owns exactly one client and calls run in
that executor: the event loop never blocks and no client is shared between threads.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import msgspec

from spyglass.store.clickhouse.rows import COMPACT_COLUMNS
from spyglass.store.config import ClickHouseConfig
from spyglass.store.errors import PermanentError, RetryableError, StartupError, mask_url

COMPONENT = "clickhouse"

# Codes that describe a condition that may clear up (overload, timeouts, memory, merges behind).
_RETRYABLE_CODES = {
    159,  # TIMEOUT_EXCEEDED
    164,  # READONLY (replica catching up)
    202,  # TOO_MANY_SIMULTANEOUS_QUERIES
    203,  # NO_FREE_CONNECTION
    209,  # SOCKET_TIMEOUT
    210,  # NETWORK_ERROR
    241,  # MEMORY_LIMIT_EXCEEDED
    252,  # TOO_MANY_PARTS
    242,  # TABLE_IS_READ_ONLY
    285,  # TOO_FEW_LIVE_REPLICAS
    319,  # UNKNOWN_STATUS_OF_INSERT
    425,  # SYSTEM_ERROR
    999,  # KEEPER_EXCEPTION
}
_CODE = re.compile(r"Code:\s*(\d+)")

# Read settings: numbers as JSON numbers (not quoted), so msgspec decodes them directly. Set
# once per connection: chDB re-applies settings passed with a query, at a cost each time.
_READ_SETTINGS = {
    "output_format_json_quote_64bit_integers": 0,
    "output_format_json_quote_decimals": 0,
    "output_format_json_named_tuples_as_objects": 1,
}

# Write settings: we batch rows ourselves, so the server-side async-insert buffer only adds a
# wait; and on a small machine parsing one block in one thread beats splitting it (several
# times faster per observation row on chDB). optimize_on_insert would run the
# ReplacingMergeTree collapse over every inserted block: our blocks hold one row per id and
# version already, and every read picks the newest version itself (rows of one id sit in
# different parts until merged anyway), so it only costs time.
_WRITE_SETTINGS = {"async_insert": 0, "input_format_parallel_parsing": 0, "optimize_on_insert": 0}

_rows_decoder = msgspec.json.Decoder(list[dict[str, Any]])


def _classify(exc: BaseException, url: str) -> Exception:
    text = str(exc)
    m = _CODE.search(text)
    code = int(m.group(1)) if m else None
    first = text.strip().splitlines()[0][:500] if text.strip() else type(exc).__name__
    name = type(exc).__name__
    if code is None and name in {"OperationalError", "ConnectionError", "TimeoutError"}:
        return RetryableError(COMPONENT, first, url)
    if code in _RETRYABLE_CODES:
        return RetryableError(COMPONENT, first, url)
    return PermanentError(COMPONENT, first, url)


class ClickHouse:
    """One logical ClickHouse connection for the whole process."""

    def __init__(self, cfg: ClickHouseConfig) -> None:
        self.cfg = cfg
        self._local = threading.local()
        self._clients: list[Any] = []
        self._clients_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=cfg.pool_size, thread_name_prefix="clickhouse")
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect (and for chdb:// start the engine); raise StartupError naming the URL."""
        try:
            await self._run(lambda c: c.command("SELECT 1"))
        except Exception as exc:
            raise StartupError(COMPONENT, self.cfg.url, _startup_reason(exc, self.cfg)) from None
        if self.cfg.database != "default":
            await self._run(lambda c: c.command(f"CREATE DATABASE IF NOT EXISTS `{self.cfg.database}`"))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._executor.shutdown, True)
        with self._clients_lock:
            clients, self._clients = self._clients, []
        for c in clients:
            try:
                c.close()
            except Exception:
                pass

    # -- calls -----------------------------------------------------------------------------

    async def command(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        await self._run(lambda c: c.command(sql, parameters=params))

    async def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a SELECT and return rows as dicts (decoded from JSONEachRow by msgspec)."""

        def call(c: Any) -> bytes:
            return c.raw_query(sql, parameters=params, fmt="JSONEachRow")

        raw = await self._run(call)
        return decode_json_each_row(raw)

    async def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        rows = await self.rows(sql, params)
        if not rows:
            return None
        return next(iter(rows[0].values()))

    async def insert_json(self, table: str, data: bytes, settings: Mapping[str, Any] | None = None) -> None:
        """Insert newline-delimited JSON rows as `json_each_row` writes them: objects
        (JSONEachRow), or arrays of the table's `COMPACT_COLUMNS` (JSONCompactEachRow), which
        may be followed by objects. Returns once ClickHouse committed them."""
        if not data:
            return
        merged = {**_WRITE_SETTINGS, **(settings or {})}
        if data[:1] == b"[":
            columns = COMPACT_COLUMNS[table]
            # Objects can only follow the arrays (a worker batch appends rows it encoded itself),
            # so the last line tells whether there are any; only then is the split searched for.
            last_line = data.rfind(b"\n", 0, len(data) - 1) + 1
            split = data.find(b"\n{") + 1 if data[last_line : last_line + 1] == b"{" else 0
            arrays, data = (data, b"") if not split else (data[:split], data[split:])
            await self._run(
                lambda c: c.raw_insert(
                    table, column_names=columns, insert_block=arrays, fmt="JSONCompactEachRow", settings=merged
                )
            )
            if not data:
                return
        await self._run(lambda c: c.raw_insert(table, insert_block=data, fmt="JSONEachRow", settings=merged))

    # -- internals -------------------------------------------------------------------------

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = _connect(self.cfg)
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    async def _run(self, fn: Any) -> Any:
        if self._closed:
            raise RetryableError(COMPONENT, "client is closed", self.cfg.url)
        loop = asyncio.get_running_loop()

        def call() -> Any:
            try:
                return fn(self._client())
            except (RetryableError, PermanentError):
                raise
            except Exception as exc:
                raise _classify(exc, self.cfg.url) from exc

        return await loop.run_in_executor(self._executor, call)


def decode_json_each_row(raw: bytes) -> list[dict[str, Any]]:
    if not raw:
        return []
    # JSONEachRow is one object per line; turning it into one JSON array lets msgspec decode
    # all rows in a single call.
    body = raw.rstrip(b"\n").replace(b"\n", b",")
    return _rows_decoder.decode(b"[" + body + b"]")


def _connect(cfg: ClickHouseConfig) -> Any:
    import clickhouse_connect

    if cfg.embedded:
        return clickhouse_connect.get_client(
            dsn=cfg.url,
            database=cfg.database,
            settings=_READ_SETTINGS,
            chdb_options={
                "max_server_memory_usage": str(cfg.max_memory_bytes),
                "mark_cache_size": str(cfg.mark_cache_bytes),
            },
        )
    parts = urlsplit(cfg.url)
    return clickhouse_connect.get_client(
        host=parts.hostname or "localhost",
        port=parts.port or (8443 if parts.scheme == "https" else 8123),
        secure=parts.scheme == "https",
        username=parts.username or cfg.user,
        password=parts.password or cfg.password,
        database=cfg.database,
        connect_timeout=5,
        send_receive_timeout=300,
        settings={"async_insert": 0, **_READ_SETTINGS},
    )


def _startup_reason(exc: BaseException, cfg: ClickHouseConfig) -> str:
    text = str(exc)
    if cfg.embedded and ("Code: 76" in text or "Cannot lock file" in text or "Code: 36" in text):
        return "the data directory is in use by another running Spyglass (chDB allows one owner process)"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return mask_url(first)[:300]
