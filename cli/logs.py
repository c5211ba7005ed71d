"""Log output: plain text for people, or one JSON object per line for log pipelines."""

from __future__ import annotations

import logging
import sys
import time

import msgspec

_encode = msgspec.json.Encoder().encode
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """Each record as one JSON object on one line; a traceback is a field, never more lines."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return _encode(entry).decode()


def configure(level: str, log_format: str) -> None:
    """Root logging to stderr at `level` (Langfuse's names: trace, debug, info, warn, error)."""
    name = {"trace": "DEBUG", "warn": "WARNING"}.get(level, level.upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=name, handlers=[handler])
    # aiohttp logs a full traceback for bodies that fail to decompress; we answer 400 already.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
