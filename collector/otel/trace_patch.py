"""Trace-level facts found on spans, and how they fold into a TraceRow.

OTel has no trace record: trace fields travel as attributes on spans (the SDKs copy them
onto every span in context), and the root span may arrive in a later batch, or never. So
every payload yields one partial view of each of its traces (the mapper folds its spans into
it), and the worker folds each view into the stored row, in receive order, with
`merge_trace_patch`. Fields a span sets explicitly beat fallbacks taken from the root
span (its name and I/O), whatever the arrival order.
"""

from __future__ import annotations

import msgspec

from spyglass.collector.otel.values import DEFAULT_ENVIRONMENT
from spyglass.store.clickhouse.rows import TraceRow


class TracePatch(msgspec.Struct):
    trace_id: str
    project_id: str
    received_at: float
    # Root span's start when `from_root`, else the earliest start seen (a guess).
    timestamp: float
    from_root: bool = False
    name: str | None = None
    root_name: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    release: str | None = None
    version: str | None = None
    # None unless a span named an environment (so "default" never overwrites a real one).
    environment: str | None = None
    tags: set[str] = msgspec.field(default_factory=set)
    public: bool | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    input: str | None = None
    output: str | None = None
    root_input: str | None = None
    root_output: str | None = None


def _later(new: str | None, old: str | None) -> str | None:
    return old if new is None else new


def merge_trace_patch(existing: TraceRow | None, patch: TracePatch) -> TraceRow:
    """The trace row after `patch`, given the current row (None if the trace is new).

    - timestamp: first write wins, except that a root span's start replaces a guess. The
      row does not record where its timestamp came from, but a root starts no later than
      its descendants, so a stored timestamp later than the root's start was a guess; an
      earlier one (a previous root, or a child under clock skew) is kept.
    - name, input, output: explicit values replace; root-span fallbacks only fill blanks.
    - user, session, release, version, environment: last non-null wins.
    - tags: union, sorted. metadata: merged key by key. public: once public, stays public
      (the SDKs never send an explicit un-public, and OR does not depend on order).
    - event_ts/updated_at: the newest receive time, so a replayed older batch still
      produces the newest row version; created_at: the first receive time.
    A tombstoned row counts as absent: spans arriving after a delete start a new trace.
    """
    if existing is not None and existing.is_deleted:
        existing = None
    received = patch.received_at
    if existing is None:
        return TraceRow(
            id=patch.trace_id,
            project_id=patch.project_id,
            timestamp=patch.timestamp,
            name=_later(patch.name, patch.root_name) or "",
            user_id=patch.user_id,
            session_id=patch.session_id,
            release=patch.release,
            version=patch.version,
            environment=patch.environment or DEFAULT_ENVIRONMENT,
            metadata=dict(patch.metadata),
            tags=sorted(patch.tags),
            public=bool(patch.public),
            input=_later(patch.input, patch.root_input),
            output=_later(patch.output, patch.root_output),
            created_at=received,
            updated_at=received,
            event_ts=received,
        )

    timestamp = existing.timestamp
    if patch.from_root and patch.timestamp < timestamp:
        timestamp = patch.timestamp
    name = existing.name
    if patch.name is not None:
        name = patch.name
    elif not name and patch.root_name:
        name = patch.root_name
    input_text = existing.input
    if patch.input is not None:
        input_text = patch.input
    elif input_text is None:
        input_text = patch.root_input
    output_text = existing.output
    if patch.output is not None:
        output_text = patch.output
    elif output_text is None:
        output_text = patch.root_output
    newest = max(existing.event_ts, received)
    return TraceRow(
        id=existing.id,
        project_id=existing.project_id,
        timestamp=timestamp,
        name=name,
        user_id=_later(patch.user_id, existing.user_id),
        session_id=_later(patch.session_id, existing.session_id),
        release=_later(patch.release, existing.release),
        version=_later(patch.version, existing.version),
        environment=patch.environment or existing.environment,
        metadata={**existing.metadata, **patch.metadata},
        tags=sorted(set(existing.tags) | patch.tags),
        public=existing.public or bool(patch.public),
        bookmarked=existing.bookmarked,
        input=input_text,
        output=output_text,
        created_at=existing.created_at or received,
        updated_at=newest,
        event_ts=newest,
    )
