"""The `filter` parameter of GET /v2/prompts: a JSON array of typed conditions, validated here
so that only known columns and operators ever reach the SQL builder."""

from __future__ import annotations

from typing import Any

import msgspec

from spyglass.query.reads.params import check_json_param, invalid, parse_datetime
from spyglass.store.postgres.prompts_repo import PromptCondition

_SEARCH = ("contains", "does not contain", "starts with", "ends with")
_COMPARE = ("=", ">", "<", ">=", "<=")
# type → (columns, operators)
_RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "string": (("id", "name", "type"), ("=", *_SEARCH, "is not empty")),
    "stringOptions": (("id", "name", "type"), ("any of", "none of")),
    "number": (("version",), _COMPARE),
    "datetime": (("createdAt", "updatedAt"), (">", "<", ">=", "<=")),
    "arrayOptions": (("labels", "tags"), ("any of", "all of", "none of")),
    "stringObject": (("config",), ("=", *_SEARCH, "is set", "is not set")),
}


def _condition(raw: Any, index: int) -> PromptCondition:
    where = f"condition {index}"
    if not isinstance(raw, dict):
        raise invalid("filter", f"{where} must be an object with type, column, operator and value")
    kind, column, operator, value = raw.get("type"), raw.get("column"), raw.get("operator"), raw.get("value")
    if kind not in _RULES:
        raise invalid("filter", f"{where}: unknown type {kind!r} (expected one of {', '.join(_RULES)})")
    columns, operators = _RULES[kind]
    if column not in columns:
        raise invalid("filter", f"{where}: column {column!r} is not filterable as {kind} (use {', '.join(columns)})")
    if operator not in operators:
        raise invalid("filter", f"{where}: operator {operator!r} is not valid for {kind} (use {', '.join(operators)})")
    key = None
    if kind == "stringObject":
        key = raw.get("key")
        if not isinstance(key, str) or not key:
            raise invalid("filter", f"{where}: a config condition needs a non-empty 'key'")
    if kind in ("stringOptions", "arrayOptions"):
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise invalid("filter", f"{where}: value must be a non-empty array of strings")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid("filter", f"{where}: value must be a number")
        value = int(value) if float(value).is_integer() else value
    elif kind == "datetime":
        if not isinstance(value, str):
            raise invalid("filter", f"{where}: value must be an ISO 8601 timestamp")
        value = parse_datetime("filter", value)
    elif operator not in ("is not empty", "is set", "is not set") and not isinstance(value, str):
        raise invalid("filter", f"{where}: value must be a string")
    return PromptCondition(type=kind, column=column, operator=operator, value=value, key=key)


def parse_prompt_filter(text: str) -> list[PromptCondition]:
    check_json_param("filter", text)
    try:
        raw = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise invalid("filter", f"not valid JSON ({exc})") from None
    if not isinstance(raw, list):
        raise invalid("filter", "expected a JSON array of conditions")
    return [_condition(c, i) for i, c in enumerate(raw)]
