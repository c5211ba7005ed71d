from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from spyglass.collector.events import normalize_environment
from spyglass.collector.events.normalize import epoch_seconds, wrap_metadata


@given(st.text(max_size=60))
def test_environment_normalization_always_yields_a_valid_name_and_is_idempotent(value: str) -> None:
    env = normalize_environment(value)
    assert 1 <= len(env) <= 40
    assert set(env) <= set("abcdefghijklmnopqrstuvwxyz0123456789-_")
    assert not env.startswith("langfuse")
    assert normalize_environment(env) == env


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]),
    )
)
def test_epoch_seconds_is_microsecond_exact(moment: datetime) -> None:
    seconds = epoch_seconds(moment)
    back = datetime.fromtimestamp(seconds, UTC)
    assert back == moment
    # The shortest repr carries the exact microseconds (what ClickHouse parses).
    whole, _, fraction = repr(seconds).partition(".")
    micros = round((moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    assert int(whole) * 1_000_000 + int(fraction.ljust(6, "0")) == micros


def test_naive_times_count_as_utc() -> None:
    assert epoch_seconds(datetime(1970, 1, 2)) == 86_400.0


def test_wrap_metadata() -> None:
    assert wrap_metadata(None) is None
    assert wrap_metadata({"a": 1}) == {"a": 1}
    assert wrap_metadata("x") == {"metadata": "x"}
    assert wrap_metadata([1]) == {"metadata": [1]}
