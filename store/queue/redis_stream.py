"""Work queue on a Redis Stream with one consumer group, for several Spyglass processes.

Keys (the `{name}` hash tag keeps both in one cluster slot, so scripts and MULTI work there):
  {key_prefix}:queue:{name}:stream    the stream; entries are {b: body[, a: prior deliveries]}
  {key_prefix}:queue:{name}:delayed   sorted set of retried messages, scored by due time (unix s)

Delivery: XREADGROUP of group `spyglass`, one consumer name per process (host:pid:random).
ack = XACK + XDEL in one MULTI, so the stream only holds messages not yet acked.
Un-acked entries idle longer than the visibility timeout, whoever holds them (a crashed process,
a stuck one), are taken over with XAUTOCLAIM, which keeps and bumps their delivery counter.

retry(message, delay): a Lua script XACKs + XDELs the entry (only if still pending: retrying an
acked message is a no-op) and puts its body in the delayed set as `<attempts>:<random>:<body>`
(or straight back with XADD when delay is 0); consumers move due members back with XADD (field
`a` = deliveries so far) in another script, so two consumers never both move one. A retried message
therefore gets a new id, and `attempts` = `a` + the entry's own delivery count. Due times use the
producers' clocks: keep them NTP-synced (skew only shifts when a retry fires).

backlog = XLEN + ZCARD: everything not acked, whether waiting, in flight or delayed.
pending_bodies reads the bodies of all of those in one MULTI, so a message moving between the
stream and the delayed set is seen exactly once (the raw-log reconciler relies on it).
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from spyglass.store.config import RedisConfig
from spyglass.store.errors import PermanentError, mask_url

from .base import DEFAULT_VISIBILITY_TIMEOUT, Message
from .redis_errors import redis_errors_mapped

GROUP = "spyglass"
_CHUNK = 1000
# Longest single XREADGROUP BLOCK: bounds how late a due retry, a reclaim, or close() is noticed.
_MAX_BLOCK_SECONDS = 1.0

_MOVE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  local first = string.find(member, ':', 1, true)
  local second = string.find(member, ':', first + 1, true)
  redis.call('XADD', KEYS[2], '*', 'b', string.sub(member, second + 1), 'a', string.sub(member, 1, first - 1))
  redis.call('ZREM', KEYS[1], member)
end
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#due, head[2] or ''}
"""

# Only a message still pending is retried: retrying one already acked (by us after a reclaim race,
# or twice) must not bring it back.
_RETRY = """
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
if ARGV[3] == '' then
  redis.call('XADD', KEYS[1], '*', 'b', ARGV[5], 'a', ARGV[4])
else
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4] .. ':' .. ARGV[6] .. ':' .. ARGV[5])
end
return 1
"""


def default_consumer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def connect(url: str, *, connect_timeout: float = 5.0, socket_timeout: float = 30.0) -> aioredis.Redis:
    """A redis.asyncio client with short, bounded reconnect retries (the default waits seconds)."""
    return aioredis.Redis.from_url(
        url,
        socket_connect_timeout=connect_timeout,
        socket_timeout=socket_timeout,
        socket_keepalive=True,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
    )


class RedisStreamQueue:
    """See the module docstring. `client` is shared, not closed, when passed in."""

    def __init__(
        self,
        cfg: RedisConfig,
        name: str,
        *,
        visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
        consumer: str | None = None,
        client: aioredis.Redis | None = None,
    ) -> None:
        if cfg.url is None and client is None:
            raise ValueError("RedisStreamQueue needs cfg.url or a client")
        if not name or any(c in name for c in "{}: \n"):
            raise ValueError(f"queue name must be non-empty without braces, colons or spaces: {name!r}")
        self.name = name
        self.url = mask_url(cfg.url)
        self.component = f"queue {name!r} (redis)"
        self.consumer = consumer or default_consumer_name()
        self.visibility_timeout = visibility_timeout
        base = f"{cfg.key_prefix}:queue:{{{name}}}"
        self.stream_key = f"{base}:stream"
        self.delayed_key = f"{base}:delayed"
        self._owns_client = client is None
        self._redis: aioredis.Redis = client if client is not None else connect(cfg.url or "")
        self._move_due = self._redis.register_script(_MOVE_DUE)
        self._retry = self._redis.register_script(_RETRY)
        self._group_ready = False
        self._claim_cursor: bytes | str = "0-0"
        self._next_reclaim = 0.0
        # Reclaiming twice per visibility timeout keeps redelivery within ~1.5 timeouts.
        self._reclaim_interval = min(max(visibility_timeout / 2, 0.05), 5.0)
        self._closed = False

    def _errors(self) -> AbstractContextManager[None]:
        return redis_errors_mapped(self.component, self.url)

    def _check_open(self) -> None:
        if self._closed:
            raise PermanentError(self.component, "queue is closed", self.url)

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(self.stream_key, GROUP, id="0", mkstream=True)
        except redis_errors.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    # -- producing -----------------------------------------------------------------------------

    async def put(self, body: bytes) -> str:
        self._check_open()
        with self._errors():
            message_id = await self._redis.xadd(self.stream_key, {b"b": bytes(body)})
        return _text(message_id)

    async def put_many(self, bodies: Iterable[bytes]) -> list[str]:
        self._check_open()
        items = [bytes(b) for b in bodies]
        ids: list[str] = []
        with self._errors():
            for start in range(0, len(items), _CHUNK):
                pipe = self._redis.pipeline(transaction=False)
                for body in items[start : start + _CHUNK]:
                    pipe.xadd(self.stream_key, {b"b": body})
                ids.extend(_text(i) for i in await pipe.execute())
        return ids

    # -- consuming -----------------------------------------------------------------------------

    # `timeout` is the long-poll wait (Redis BLOCK), part of the call's meaning, not a cancel scope.
    async def get_batch(self, max_items: int, timeout: float) -> list[Message]:
        if max_items < 1:
            raise ValueError("max_items must be >= 1")
        give_up = time.monotonic() + max(timeout, 0.0)
        with self._errors():
            while not self._closed:
                try:
                    await self._ensure_group()
                    batch = await self._collect(max_items, give_up)
                except redis_errors.ResponseError as exc:
                    if not str(exc).startswith(("NOGROUP", "UNBLOCKED")):
                        raise
                    self._group_ready = False  # stream or group deleted under us: recreate
                    continue
                if batch or time.monotonic() >= give_up:
                    return batch
        return []

    async def _collect(self, max_items: int, give_up: float) -> list[Message]:
        batch: list[Message] = []
        now = time.monotonic()
        if now >= self._next_reclaim:
            self._next_reclaim = now + self._reclaim_interval
            batch.extend(await self._reclaim(max_items))
            if len(batch) >= max_items:
                return batch
        moved, next_due = await self._move_due(
            keys=[self.delayed_key, self.stream_key], args=[repr(time.time()), max_items]
        )
        block: int | None = None
        if not batch and not moved:
            wait = min(give_up - time.monotonic(), _MAX_BLOCK_SECONDS, self._next_reclaim - time.monotonic())
            if next_due:
                wait = min(wait, float(next_due) - time.time())
            if wait >= 0.001:
                block = int(wait * 1000)
        # RESP2 reply (decode_responses=False): [[stream, [(id, {field: value}), ...]]]
        response: Any = await self._redis.xreadgroup(
            GROUP, self.consumer, {self.stream_key: ">"}, count=max_items - len(batch), block=block
        )
        for _stream, entries in response or []:
            for entry_id, fields in entries:
                batch.append(_message(entry_id, fields, deliveries=1))
        return batch

    async def _reclaim(self, max_items: int) -> list[Message]:
        response = await self._redis.xautoclaim(
            self.stream_key,
            GROUP,
            self.consumer,
            min_idle_time=max(int(self.visibility_timeout * 1000), 1),
            start_id=self._claim_cursor,
            count=max_items,
        )
        next_cursor, entries = response[0], response[1]
        self._claim_cursor = next_cursor
        # Redis 6.2 reports entries deleted from the stream as (None, None); 7.x drops them itself.
        claimed = [(entry_id, fields) for entry_id, fields in entries if entry_id is not None and fields]
        if not claimed:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for entry_id, _ in claimed:
            pipe.xpending_range(self.stream_key, GROUP, entry_id, entry_id, 1, self.consumer)
        counts = await pipe.execute()
        messages = []
        for (entry_id, fields), pending in zip(claimed, counts, strict=True):
            # No pending row means another consumer acked it in between: skip it.
            if pending:
                messages.append(_message(entry_id, fields, deliveries=int(pending[0]["times_delivered"])))
        return messages

    async def ack(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        with self._errors():
            for start in range(0, len(ids), _CHUNK):
                chunk = list(ids[start : start + _CHUNK])
                pipe = self._redis.pipeline(transaction=True)
                pipe.xack(self.stream_key, GROUP, *chunk)
                pipe.xdel(self.stream_key, *chunk)
                await pipe.execute()

    async def retry(self, message: Message, delay_seconds: float) -> None:
        self._check_open()
        due = repr(time.time() + delay_seconds) if delay_seconds > 0 else ""
        with self._errors():
            await self._retry(
                keys=[self.stream_key, self.delayed_key],
                args=[GROUP, message.id, due, str(message.attempts), message.body, secrets.token_hex(8)],
            )

    async def backlog(self) -> int:
        with self._errors():
            pipe = self._redis.pipeline(transaction=False)
            pipe.xlen(self.stream_key)
            pipe.zcard(self.delayed_key)
            waiting, delayed = await pipe.execute()
        return int(waiting) + int(delayed)

    async def pending_bodies(self, limit: int) -> list[bytes] | None:
        """The bodies of every message not acked yet (waiting, in flight or delayed), read in one
        transaction; None when there are more than `limit` of them."""
        with self._errors():
            pipe = self._redis.pipeline(transaction=True)
            pipe.xrange(self.stream_key, "-", "+", count=limit + 1)
            pipe.zrange(self.delayed_key, 0, limit)
            entries, delayed = await pipe.execute()
        if len(entries) + len(delayed) > limit:
            return None
        bodies = [bytes(fields[b"b"]) for _id, fields in entries if fields]
        # Delayed members are `<attempts>:<random>:<body>`; neither prefix holds a colon.
        bodies.extend(bytes(member).split(b":", 2)[2] for member in delayed)
        return bodies

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            # A consumer with nothing pending can go; one with pending entries must stay so that
            # others can XAUTOCLAIM them (deleting it would orphan them).
            if self._group_ready:
                mine = await self._redis.xpending_range(self.stream_key, GROUP, "-", "+", 1, consumername=self.consumer)
                if not mine:
                    await self._redis.xgroup_delconsumer(self.stream_key, GROUP, self.consumer)
        except (redis_errors.RedisError, OSError):
            pass  # best effort: a leftover consumer with nothing pending is harmless
        finally:
            if self._owns_client:
                await self._redis.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _message(entry_id: bytes | str, fields: dict[bytes, bytes], *, deliveries: int) -> Message:
    prior = int(fields.get(b"a", b"0"))
    return Message(id=_text(entry_id), body=fields[b"b"], attempts=prior + deliveries)
