"""Checking a score against its score config (the config lives in Postgres; this is pure).

One rule at two moments: the receivers check each new ``score-create`` when the request arrives
(:func:`screen_scores`, a 400 naming the rule), and the worker checks the merged row with the
config as it is then (:func:`check_score`), since a config may be archived or deleted in between.
What fails in the worker is left out and recorded as a dead letter: the client was answered already.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import msgspec

from spyglass.collector.events.bodies import MAX_TEXT_SCORE
from spyglass.collector.events.envelopes import IngestionEvent, ScoreCreate
from spyglass.collector.events.merge import merge_score
from spyglass.store.clickhouse.rows import ScoreRow


class ScoreConfigCategory(msgspec.Struct, kw_only=True):
    label: str
    value: float


class ScoreConfig(msgspec.Struct, kw_only=True):
    id: str
    name: str
    data_type: str  # NUMERIC | BOOLEAN | CATEGORICAL | TEXT
    min_value: float | None = None
    max_value: float | None = None
    categories: list[ScoreConfigCategory] | None = None
    is_archived: bool = False


class ScoreRejected(msgspec.Struct, kw_only=True):
    score_id: str
    message: str


def apply_score_config(
    row: ScoreRow, config: ScoreConfig, *, declared_data_type: str | None = None
) -> ScoreRow | ScoreRejected:
    """The row as the config defines it, or why the score does not fit the config.

    The config's name replaces the score's, its type decides how the value is stored, and the value
    must fit its range or categories. ``declared_data_type`` is the ``dataType`` the client sent
    (``ScoreBody.data_type``, None when it sent none): a declared type must equal the config's. An
    undeclared type was only inferred from the value, so only the value's kind (number or text)
    has to fit: a number 1 under a BOOLEAN config is fine.
    """

    def reject(message: str) -> ScoreRejected:
        return ScoreRejected(score_id=row.id, message=message)

    if config.is_archived:
        return reject(f"score config {config.id} is archived; restore it before using it")
    if declared_data_type is not None and declared_data_type != config.data_type:
        return reject(f"dataType {declared_data_type} does not match config type {config.data_type}")
    if row.data_type == "CORRECTION":
        return reject("CORRECTION scores cannot use a score config")
    number = row.value if row.data_type in ("NUMERIC", "BOOLEAN") else None
    text = row.string_value if row.data_type in ("CATEGORICAL", "TEXT") else None

    if config.data_type in ("NUMERIC", "BOOLEAN") and number is None:
        return reject(f"value must be a number for config type {config.data_type}")
    if config.data_type in ("CATEGORICAL", "TEXT") and text is None:
        return reject(f"value must be a string for config type {config.data_type}")

    columns: tuple[str, float, str | None]
    if config.data_type == "NUMERIC":
        assert number is not None
        if config.min_value is not None and number < config.min_value:
            return reject(f"value {_number(number)} is below the config minimum {_number(config.min_value)}")
        if config.max_value is not None and number > config.max_value:
            return reject(f"value {_number(number)} is above the config maximum {_number(config.max_value)}")
        columns = ("NUMERIC", number, None)
    elif config.data_type == "BOOLEAN":
        assert number is not None
        if number not in (0.0, 1.0):
            return reject(f"value must be 0 or 1 for a BOOLEAN config, got {_number(number)}")
        columns = ("BOOLEAN", number, "True" if number == 1.0 else "False")
    elif config.data_type == "CATEGORICAL":
        mapped = {category.label: category.value for category in config.categories or []}
        if config.categories and text not in mapped:
            return reject(f"value {text!r} is not a category of config {config.name!r}")
        columns = ("CATEGORICAL", mapped.get(str(text), 0.0), text)
    elif config.data_type == "TEXT":
        if not 1 <= len(str(text)) <= MAX_TEXT_SCORE:
            return reject(f"value must be 1 to {MAX_TEXT_SCORE} characters for a TEXT config")
        columns = ("TEXT", 0.0, text)
    else:
        return reject(f"score config {config.id} has an unknown data type {config.data_type!r}")

    data_type, value, string_value = columns
    return msgspec.structs.replace(
        row,
        name=config.name,
        config_id=config.id,
        data_type=data_type,
        value=float(value),
        string_value=string_value,
    )


def check_score(
    row: ScoreRow, config: ScoreConfig | None, *, declared_data_type: str | None = None
) -> ScoreRow | ScoreRejected:
    """:func:`apply_score_config`, where ``config`` is None when no config has ``row.config_id``."""
    if config is None:
        return ScoreRejected(score_id=row.id, message=f"score config {row.config_id} does not exist")
    return apply_score_config(row, config, declared_data_type=declared_data_type)


def named_configs(events: Iterable[IngestionEvent]) -> list[str]:
    """The config ids the batch's new scores name (most batches name none: nothing to look up)."""
    return sorted({e.body.config_id for e in events if isinstance(e, ScoreCreate) and e.body.config_id})


def screen_scores(
    events: Sequence[IngestionEvent], configs: Mapping[str, ScoreConfig], project_id: str
) -> tuple[list[IngestionEvent], list[tuple[ScoreCreate, str]]]:
    """The events that may be accepted, and each new score that does not fit the config it names
    with the reason. ``configs`` holds the project's configs of :func:`named_configs` that exist.
    Each event is checked alone, as the row it would make on its own (the worker checks the merge)."""
    kept: list[IngestionEvent] = []
    rejected: list[tuple[ScoreCreate, str]] = []
    for event in events:
        if isinstance(event, ScoreCreate) and event.body.config_id:
            row = merge_score(None, [event], project_id, 0.0)
            result = check_score(row, configs.get(event.body.config_id), declared_data_type=event.body.data_type)
            if isinstance(result, ScoreRejected):
                rejected.append((event, result.message))
                continue
        kept.append(event)
    return kept, rejected


def _number(value: float) -> str:
    """11 rather than 11.0: the message quotes what the client sent."""
    return str(int(value)) if value.is_integer() else repr(value)
