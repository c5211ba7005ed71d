"""The neutral shape both OTLP decoders produce: resource → scope → span, already validated.

Ids are lowercase hex, times are integer nanoseconds since the epoch, attribute values are
plain Python values (str, int, float, bool, None, list, dict for kvlists, base64 str for
bytes). The structs opt out of the cyclic GC: they hold only trees, never cycles, and an
export can create hundreds of thousands of them.
"""

from __future__ import annotations

from typing import Any

import msgspec

AttrValue = Any
Attributes = dict[str, AttrValue]


class SpanEvent(msgspec.Struct, gc=False):
    time_ns: int
    name: str
    attributes: Attributes


class SpanLink(msgspec.Struct, gc=False):
    trace_id: str
    span_id: str
    trace_state: str
    attributes: Attributes


class RawSpan(msgspec.Struct, gc=False):
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    # OTLP SpanKind number: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
    kind: int
    start_ns: int
    end_ns: int
    attributes: Attributes
    events: list[SpanEvent]
    links: list[SpanLink]
    # OTLP StatusCode number: 0 unset, 1 ok, 2 error.
    status_code: int
    status_message: str


class SpanGroup(msgspec.Struct, gc=False):
    """The spans of one (resource, instrumentation scope) pair."""

    resource_attributes: Attributes
    scope_name: str
    scope_version: str
    scope_attributes: Attributes
    spans: list[RawSpan]


class Rejections:
    """Spans refused one by one, for OTLP `partial_success` (the others are still mapped)."""

    __slots__ = ("by_reason", "count", "first_example")

    def __init__(self) -> None:
        self.count = 0
        self.by_reason: dict[str, int] = {}
        self.first_example = ""

    def add(self, reason: str, trace_id: str | None = None, span_id: str | None = None) -> None:
        self.count += 1
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
        if not self.first_example:
            where = ", ".join(
                f"{label}={value}" for label, value in (("trace_id", trace_id), ("span_id", span_id)) if value
            )
            self.first_example = f"{reason} ({where})" if where else reason

    def copy(self) -> Rejections:
        twin = Rejections()
        twin.count, twin.by_reason, twin.first_example = self.count, dict(self.by_reason), self.first_example
        return twin

    def message(self, total: int, items: str = "spans") -> str:
        """One line for `partial_success.error_message`; empty when nothing was rejected."""
        if not self.count:
            return ""
        reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.by_reason.items()))
        return f"rejected {self.count} of {total} {items} ({reasons}); first: {self.first_example}"


class DecodedExport:
    """One OTLP export request after decoding and per-span validation."""

    __slots__ = ("groups", "rejections", "span_count")

    def __init__(self, groups: list[SpanGroup], rejections: Rejections) -> None:
        self.groups = groups
        self.rejections = rejections
        self.span_count = sum(len(group.spans) for group in groups)

    @property
    def rejected_count(self) -> int:
        return self.rejections.count

    @property
    def error_message(self) -> str:
        return self.rejections.message(self.span_count + self.rejections.count)
