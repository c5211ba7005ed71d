"""Real servers for tests and benchmarks, each on 127.0.0.1 with free ports, stopped with their group.

Usable outside pytest:

    with RedisServer() as redis, S3Server() as s3:
        ...  # redis.url, s3.endpoint / s3.access_key / s3.secret_key / s3.bucket

pytest fixtures built on these live in `tests.engines.fixtures`.
"""

from .ports import free_port, free_ports
from .redis_server import RedisServer, find_redis_server, start_redis
from .s3_server import S3Server, find_weed, new_bucket_name, start_s3

__all__ = [
    "RedisServer",
    "S3Server",
    "find_redis_server",
    "find_weed",
    "free_port",
    "free_ports",
    "new_bucket_name",
    "start_redis",
    "start_s3",
]
