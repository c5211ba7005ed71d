"""The accept-time check and the worker's decoder must agree on which spans are rejected."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from spyglass.collector.otel import decode_otlp
from spyglass.collector.receivers.inspect import inspect_request

_ids = st.sampled_from([b"", b"\x00" * 8, b"\x01" * 8, b"\x02" * 7, b"\x00" * 16, b"\x03" * 16, b"\x04" * 9])
_times = st.sampled_from([0, 5, 1_700_000_000_000_000_000, 1_700_000_000_000_000_100, 2**63 - 1])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(_ids, _ids, _ids, _times, _times),
        min_size=1,
        max_size=6,
    )
)
def test_same_rejections_as_the_decoder(spans: list[tuple[bytes, bytes, bytes, int, int]]) -> None:
    req = trace_service_pb2.ExportTraceServiceRequest()
    out = req.resource_spans.add().scope_spans.add().spans
    for trace_id, span_id, parent, start, end in spans:
        out.append(
            trace_pb2.Span(
                trace_id=trace_id,
                span_id=span_id,
                parent_span_id=parent,
                name="s",
                start_time_unix_nano=start,
                end_time_unix_nano=end,
            )
        )
    body = req.SerializeToString()
    inspection = inspect_request(body, "pb")
    export = decode_otlp(body, "application/x-protobuf")
    assert inspection.total == len(spans)
    assert inspection.rejected == export.rejected_count
    assert inspection.message == export.error_message
