"""Opaque pagination cursors: base64 of a small JSON object (Langfuse's format)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from spyglass.collector.json_depth import too_deep
from spyglass.query.reads.params import invalid


def encode(position: dict[str, Any], *, urlsafe: bool = False) -> str:
    raw = msgspec.json.encode(position)
    return (base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)).decode().rstrip("=")


def decode(text: str, required: tuple[str, ...]) -> dict[str, Any]:
    """The cursor's fields; any damage (bad base64, bad JSON, missing keys) is a 400 on `cursor`."""
    padded = text.strip() + "=" * (-len(text.strip()) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        value = None if too_deep(raw) else msgspec.json.decode(raw)  # ours are flat objects
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise invalid("cursor", "invalid cursor format (pass the cursor from a previous response unchanged)") from None
    if not isinstance(value, dict) or any(k not in value for k in required):
        raise invalid("cursor", "invalid cursor format (pass the cursor from a previous response unchanged)")
    return value
