"""Score configs: validation of create/update bodies and the response shape (the SQL is in
spyglass.store.postgres.score_configs_repo)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg

from spyglass.collector.http import ApiError, bad_request
from spyglass.query.reads.params import Page
from spyglass.query.reads.values import iso_dt
from spyglass.store.postgres.score_configs_repo import ScoreConfigChange, ScoreConfigsRepo

DATA_TYPES = ("NUMERIC", "BOOLEAN", "CATEGORICAL", "TEXT")
NAME_MAX = 35
_NAME = re.compile(r"^[\w .()\-]+$")
# Boolean configs always carry these two categories (clients cannot pass their own).
BOOLEAN_CATEGORIES = [{"label": "True", "value": 1}, {"label": "False", "value": 0}]


def _field(name: str, message: str) -> ApiError:
    return bad_request(f"Invalid request body: '{name}' {message}")


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _field("name", "is required and must be a non-empty string")
    if len(value) > NAME_MAX:
        raise _field("name", f"must be at most {NAME_MAX} characters")
    if not _NAME.match(value):
        raise _field("name", "may only contain letters, numbers, underscores, spaces, periods, parentheses and hyphens")
    return value


def _number(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _field(name, "must be a finite number")
    return float(value)


def _categories(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise _field("categories", "must be a non-empty array of {label, value} objects for CATEGORICAL configs")
    labels: set[str] = set()
    values: set[float] = set()
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _field("categories", f"item {i} must be an object with 'label' and 'value'")
        label, number = item.get("label"), item.get("value")
        if not isinstance(label, str) or not label:
            raise _field("categories", f"item {i} needs a non-empty string 'label'")
        if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
            raise _field("categories", f"item {i} needs a numeric 'value'")
        if label in labels:
            raise _field("categories", f"labels must be unique; {label!r} appears twice")
        if number in values:
            raise _field("categories", f"values must be unique; {number!r} appears twice")
        labels.add(label)
        values.add(number)
        out.append({"label": label, "value": number})
    return out


def _description(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _field("description", "must be a string")
    return value


def _check_shape(data_type: str, categories: Any, min_value: float | None, max_value: float | None) -> None:
    """What each data type allows: a range only for NUMERIC, categories only for CATEGORICAL."""
    if data_type != "NUMERIC":
        for name, value in (("minValue", min_value), ("maxValue", max_value)):
            if value is not None:
                raise _field(name, f"is only allowed for NUMERIC configs, not {data_type}")
    elif min_value is not None and max_value is not None and min_value >= max_value:
        raise _field("maxValue", f"must be greater than minValue ({max_value} <= {min_value})")
    if data_type == "BOOLEAN" and categories is not None:
        raise _field("categories", "cannot be passed for BOOLEAN configs (they are always True=1 and False=0)")
    if data_type in ("NUMERIC", "TEXT") and categories is not None:
        raise _field("categories", f"are only allowed for CATEGORICAL configs, not {data_type}")


class NewConfig:
    def __init__(self, body: Mapping[str, Any]) -> None:
        self.name = _name(body.get("name"))
        data_type = body.get("dataType")
        if data_type not in DATA_TYPES:
            raise _field("dataType", f"must be one of {', '.join(DATA_TYPES)}, got {data_type!r}")
        self.data_type: str = data_type
        self.min_value = _number("minValue", body.get("minValue"))
        self.max_value = _number("maxValue", body.get("maxValue"))
        raw_categories = body.get("categories")
        _check_shape(self.data_type, raw_categories, self.min_value, self.max_value)
        if self.data_type == "CATEGORICAL":
            self.categories: list[dict[str, Any]] | None = _categories(raw_categories)
        elif self.data_type == "BOOLEAN":
            self.categories = BOOLEAN_CATEGORIES
        else:
            self.categories = None
        self.description = _description(body.get("description"))


_UPDATABLE = ("isArchived", "name", "categories", "minValue", "maxValue", "description")


async def create(pg: asyncpg.Pool, project_id: str, cfg: NewConfig) -> dict[str, Any]:
    row = await ScoreConfigsRepo(pg).create(
        project_id,
        name=cfg.name,
        data_type=cfg.data_type,
        min_value=cfg.min_value,
        max_value=cfg.max_value,
        categories=cfg.categories,
        description=cfg.description,
    )
    return shape(row)


async def get(pg: asyncpg.Pool, project_id: str, config_id: str) -> dict[str, Any] | None:
    row = await ScoreConfigsRepo(pg).get(project_id, config_id)
    return shape(row) if row else None


async def page(pg: asyncpg.Pool, project_id: str, pg_page: Page) -> tuple[list[dict[str, Any]], int]:
    rows, total = await ScoreConfigsRepo(pg).page(project_id, offset=pg_page.offset, limit=pg_page.limit)
    return [shape(r) for r in rows], total


def _revise(given: Mapping[str, Any]) -> Callable[[asyncpg.Record], ScoreConfigChange]:
    """The stored config with the PATCH fields `given` applied, checked against its data type."""

    def revise(row: asyncpg.Record) -> ScoreConfigChange:
        data_type = row["data_type"]
        name = _name(given["name"]) if "name" in given else row["name"]
        min_value = _number("minValue", given["minValue"]) if "minValue" in given else row["min_value"]
        max_value = _number("maxValue", given["maxValue"]) if "maxValue" in given else row["max_value"]
        categories = row["categories"]
        if "categories" in given:
            _check_shape(data_type, given["categories"], None, None)
            categories = _categories(given["categories"])
        _check_shape(data_type, None, min_value, max_value)
        archived = given.get("isArchived", row["is_archived"])
        if not isinstance(archived, bool):
            raise _field("isArchived", "must be true or false")
        description = _description(given["description"]) if "description" in given else row["description"]
        return ScoreConfigChange(
            name=name,
            min_value=min_value,
            max_value=max_value,
            categories=categories,
            is_archived=archived,
            description=description,
        )

    return revise


async def update(pg: asyncpg.Pool, project_id: str, config_id: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
    """Apply a PATCH body; None when the config does not exist in the project."""
    given = {k: body[k] for k in _UPDATABLE if k in body}
    if not given:
        raise bad_request(
            f"Invalid request body: provide at least one of {', '.join(_UPDATABLE)} to update the score config"
        )
    # Checked against the stored config while it is locked, so concurrent updates cannot
    # combine into a shape neither of them would pass.
    updated = await ScoreConfigsRepo(pg).update(project_id, config_id, _revise(given))
    return shape(updated) if updated else None


def shape(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "createdAt": iso_dt(row["created_at"]),
        "updatedAt": iso_dt(row["updated_at"]),
        "projectId": row["project_id"],
        "dataType": row["data_type"],
        "isArchived": row["is_archived"],
        "minValue": row["min_value"],
        "maxValue": row["max_value"],
        "categories": row["categories"],
        "description": row["description"],
    }
