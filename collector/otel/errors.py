"""The one error the OTLP decoders raise on purpose."""

from __future__ import annotations

from spyglass.store.errors import SpyglassError


class OtlpDecodeError(SpyglassError):
    """The body is not a well-formed OTLP trace export; the message says why (HTTP 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OtlpContentTypeError(OtlpDecodeError):
    """The body is neither OTLP protobuf nor OTLP/JSON (HTTP 415)."""
