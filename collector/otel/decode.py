"""Pick the decoder from the request's Content-Type (both encodings share one HTTP path)."""

from __future__ import annotations

from spyglass.collector.otel.errors import OtlpContentTypeError
from spyglass.collector.otel.json_decoder import decode_json_export
from spyglass.collector.otel.protobuf_decoder import decode_protobuf_export
from spyglass.collector.otel.spans import DecodedExport


def is_json_content_type(content_type: str) -> bool:
    """True for OTLP/JSON, False for OTLP/protobuf; anything else raises OtlpContentTypeError."""
    lowered = content_type.lower()
    if "json" in lowered:
        return True
    if "protobuf" in lowered:
        return False
    raise OtlpContentTypeError(
        f"unsupported content type {content_type!r}: use application/x-protobuf or application/json"
    )


def decode_otlp(body: bytes, content_type: str) -> DecodedExport:
    """Decode an (already inflated) OTLP trace export body of either encoding."""
    if is_json_content_type(content_type):
        return decode_json_export(body)
    return decode_protobuf_export(body)
