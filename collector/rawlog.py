"""The raw log: every accepted payload is written to the events blob store before it is
acknowledged, under a key that says everything the worker needs to process it again.

Key layout (after the configured prefix, e.g. LANGFUSE_S3_EVENT_UPLOAD_PREFIX):

    raw/{project_id}/{yyyy}/{mm}/{dd}/{hh}/{received_us}-{nonce}.{source}.{fmt}[.gz]

- `received_us`: receive time in microseconds since the epoch, zero-padded to 17 digits, so
  keys sort by time within an hour and rows written from the payload get a deterministic
  version (a replay writes identical rows, which the store collapses).
- `source`: `otel` (an OTLP ExportTraceServiceRequest), `otel-logs` (an OTLP
  ExportLogsServiceRequest) or `ingestion` (Langfuse events as a JSON array of already-validated
  events).
- `fmt`: `pb` (protobuf) or `json`.
- `.gz`: the payload is stored gzip-compressed, as the client sent it (OTLP/HTTP with
  `Content-Encoding: gzip`): several times fewer bytes to write, fsync, fetch and pipe to the
  mapping processes, which inflate it (with a size cap). Keys without it, and references without an
  encoding (written before it existed), are uncompressed.
The raw log is the replay source (`spyglass replay`) and the recovery source after a crash.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Literal

import msgspec

Source = Literal["otel", "otel-logs", "ingestion"]
Fmt = Literal["pb", "json"]
Encoding = Literal["identity", "gzip"]
_SUFFIX: dict[str, str] = {"identity": "", "gzip": ".gz"}

_KEY = re.compile(
    r"^raw/(?P<project>[^/]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/(?P<h>\d{2})/"
    r"(?P<us>\d{17})-(?P<nonce>[0-9a-f]+)\.(?P<source>otel|otel-logs|ingestion)\.(?P<fmt>pb|json)(?P<gz>\.gz)?$"
)


class RawRef(msgspec.Struct, frozen=True, array_like=True):
    """What the queue carries: a reference, never the payload."""

    key: str
    project_id: str
    source: Source
    fmt: Fmt
    received_us: int
    # Last and defaulted: references queued by a version without it decode as uncompressed.
    encoding: Encoding = "identity"


def make_ref(
    project_id: str, source: Source, fmt: Fmt, received_us: int | None = None, encoding: Encoding = "identity"
) -> RawRef:
    if received_us is None:
        received_us = time.time_ns() // 1000
    t = time.gmtime(received_us // 1_000_000)
    key = (
        f"raw/{project_id}/{t.tm_year:04d}/{t.tm_mon:02d}/{t.tm_mday:02d}/{t.tm_hour:02d}/"
        f"{received_us:017d}-{secrets.token_hex(6)}.{source}.{fmt}{_SUFFIX[encoding]}"
    )
    return RawRef(key, project_id, source, fmt, received_us, encoding)


def parse_key(key: str) -> RawRef | None:
    m = _KEY.match(key)
    if m is None:
        return None
    encoding: Encoding = "gzip" if m["gz"] else "identity"
    return RawRef(key, m["project"], m["source"], m["fmt"], int(m["us"]), encoding)  # type: ignore[arg-type]


def hour_prefix(project_id: str, epoch_seconds: float) -> str:
    t = time.gmtime(epoch_seconds)
    return f"raw/{project_id}/{t.tm_year:04d}/{t.tm_mon:02d}/{t.tm_mday:02d}/{t.tm_hour:02d}/"


_encode = msgspec.msgpack.encode
_decode = msgspec.msgpack.Decoder(RawRef).decode


def encode_ref(ref: RawRef) -> bytes:
    return _encode(ref)


def decode_ref(data: bytes) -> RawRef:
    return _decode(data)
