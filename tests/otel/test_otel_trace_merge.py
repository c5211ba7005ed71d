"""Folding per-batch TracePatches into the stored TraceRow (merge_trace_patch)."""

from __future__ import annotations

from spyglass.collector.otel import TracePatch, merge_trace_patch
from spyglass.store.clickhouse.rows import TraceRow
from tests.otel.otlp_builders import PROJECT, T0, TRACE, make_request, make_span, map_request


def patch(**fields) -> TracePatch:
    base = {"trace_id": TRACE, "project_id": PROJECT, "received_at": 100.0, "timestamp": 50.0}
    base.update(fields)
    return TracePatch(**base)


def test_a_new_trace_from_a_child_only_still_exists():
    row = merge_trace_patch(None, patch(timestamp=42.0, user_id="u"))
    assert (row.id, row.project_id, row.timestamp, row.user_id) == (TRACE, PROJECT, 42.0, "u")
    assert (row.name, row.environment, row.tags, row.public, row.input) == ("", "default", [], False, None)
    assert row.created_at == row.updated_at == row.event_ts == 100.0


def test_root_start_replaces_a_guess_but_not_an_earlier_value():
    guessed = merge_trace_patch(None, patch(timestamp=60.0))
    assert merge_trace_patch(guessed, patch(timestamp=55.0, from_root=True, received_at=101.0)).timestamp == 55.0
    # A later non-root guess never moves it (first write wins).
    assert merge_trace_patch(guessed, patch(timestamp=10.0, received_at=101.0)).timestamp == 60.0
    rooted = merge_trace_patch(None, patch(timestamp=55.0, from_root=True))
    assert merge_trace_patch(rooted, patch(timestamp=70.0, from_root=True)).timestamp == 55.0


def test_explicit_name_and_io_beat_root_fallbacks_in_either_order():
    explicit = patch(name="named", input="explicit-in")
    fallback = patch(root_name="root-span", root_input="root-in", root_output="root-out", from_root=True)
    for first, second in ((explicit, fallback), (fallback, explicit)):
        row = merge_trace_patch(merge_trace_patch(None, first), second)
        assert (row.name, row.input, row.output) == ("named", "explicit-in", "root-out")


def test_sets_unions_and_last_non_null():
    first = merge_trace_patch(
        None,
        patch(
            tags={"b", "a"},
            metadata={"x": "1", "y": "1"},
            user_id="u1",
            session_id="s1",
            environment="prod",
            release="r1",
            version="v1",
            public=True,
        ),
    )
    second = merge_trace_patch(
        first,
        patch(tags={"c", "a"}, metadata={"y": "2"}, user_id="u2", public=False, received_at=200.0),
    )
    assert second.tags == ["a", "b", "c"]
    assert second.metadata == {"x": "1", "y": "2"}
    assert (second.user_id, second.session_id) == ("u2", "s1")
    assert (second.environment, second.release, second.version) == ("prod", "r1", "v1")
    assert second.public is True
    assert (second.created_at, second.updated_at, second.event_ts) == (100.0, 200.0, 200.0)


def test_replayed_older_batch_still_yields_the_newest_version():
    newer = TraceRow(id=TRACE, project_id=PROJECT, timestamp=50.0, event_ts=300.0, created_at=90.0, updated_at=300.0)
    merged = merge_trace_patch(newer, patch(received_at=100.0, name="n"))
    assert merged.event_ts == merged.updated_at == 300.0
    assert merged.created_at == 90.0
    assert merged.name == "n"


def test_bookmark_survives_and_tombstones_restart():
    kept = TraceRow(id=TRACE, project_id=PROJECT, timestamp=50.0, bookmarked=True, name="old")
    assert merge_trace_patch(kept, patch()).bookmarked is True
    deleted = TraceRow(id=TRACE, project_id=PROJECT, timestamp=5.0, name="old", is_deleted=1)
    fresh = merge_trace_patch(deleted, patch(timestamp=50.0))
    assert (fresh.name, fresh.timestamp, fresh.is_deleted) == ("", 50.0, 0)


def test_root_arriving_in_a_later_batch_fills_the_trace():
    child = make_span(sid=2, parent=1, name="child", start=T0 + 5_000_000, attrs={"user.id": "u"})
    root = make_span(sid=1, name="root", start=T0, attrs={"langfuse.observation.output": "answer"})
    first = map_request(make_request([child]), received_at=1_000.0).traces[TRACE]
    second = map_request(make_request([root]), received_at=2_000.0).traces[TRACE]
    row = merge_trace_patch(merge_trace_patch(None, first), second)
    assert row.timestamp == 1_790_000_000.123456
    assert (row.name, row.output, row.user_id) == ("root", "answer", "u")
    assert (row.created_at, row.event_ts) == (1_000.0, 2_000.0)


def test_map_results_survive_pickling_across_worker_processes():
    import pickle

    span = make_span(
        attrs={
            "langfuse.trace.tags": ["a"],
            "langfuse.experiment.id": "e1",
            "langfuse.observation.usage_details": '{"input": 1}',
        }
    )
    result = map_request(make_request([span]))
    copy = pickle.loads(pickle.dumps(result))
    assert copy == result
    assert copy.traces[TRACE].tags == {"a"} and copy.experiments[0].experiment_id == "e1"
