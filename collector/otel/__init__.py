"""OTLP trace decoding and the OTel span → Langfuse observation mapping (pure, no I/O).

    export = decode_otlp(body, content_type)          # or decode_protobuf / decode_json_export
    result = map_export(export, project_id=pid, received_at=t)
    result.observations       # ObservationRow per accepted span
    result.traces             # trace id → TracePatch; fold with merge_trace_patch(existing, patch)
    result.experiments        # spans carrying langfuse.experiment.* (dataset runs)
    result.rejected_count, result.error_message   # OTLP partial_success

Malformed bodies raise OtlpDecodeError (HTTP 400); an unknown content type raises its
subclass OtlpContentTypeError (HTTP 415). Individual bad spans never raise: they are counted.
"""

from spyglass.collector.otel.decode import decode_otlp, is_json_content_type
from spyglass.collector.otel.errors import OtlpContentTypeError, OtlpDecodeError
from spyglass.collector.otel.experiments import ExperimentItem
from spyglass.collector.otel.json_decoder import decode_json_export
from spyglass.collector.otel.mapper import MapResult, map_export
from spyglass.collector.otel.protobuf_decoder import decode_protobuf, decode_protobuf_export, walk_protobuf
from spyglass.collector.otel.spans import DecodedExport, RawSpan, SpanEvent, SpanGroup, SpanLink
from spyglass.collector.otel.trace_patch import TracePatch, merge_trace_patch
from spyglass.collector.otel.values import normalize_environment

__all__ = [
    "DecodedExport",
    "ExperimentItem",
    "MapResult",
    "OtlpContentTypeError",
    "OtlpDecodeError",
    "RawSpan",
    "SpanEvent",
    "SpanGroup",
    "SpanLink",
    "TracePatch",
    "decode_json_export",
    "decode_otlp",
    "decode_protobuf",
    "decode_protobuf_export",
    "is_json_content_type",
    "map_export",
    "merge_trace_patch",
    "normalize_environment",
    "walk_protobuf",
]
