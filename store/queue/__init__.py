"""At-least-once work queue: in-process for one machine, Redis Streams for several."""

from .base import DEFAULT_VISIBILITY_TIMEOUT, Message, Queue
from .factory import open_queue
from .memory import MemoryQueue
from .redis_stream import RedisStreamQueue

__all__ = ["DEFAULT_VISIBILITY_TIMEOUT", "MemoryQueue", "Message", "Queue", "RedisStreamQueue", "open_queue"]
