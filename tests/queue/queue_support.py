"""Types shared by the queue tests (a plain module: conftest modules are not importable by name)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from spyglass.store.queue import Queue

# make_queue(visibility_timeout=..., consumer=...) -> Queue
MakeQueue = Callable[..., Awaitable[Queue]]
