"""The `filter` query parameter: a JSON array of `{type, column, operator, value, key?}` conditions.

Each condition compiles to a SQL predicate over a known column expression; the value is always a
bound parameter and the column must be one of the endpoint's constants, so nothing a client sends
becomes SQL text. Unknown columns, wrong operators and wrong value types are 400s naming `filter`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from spyglass.collector.http import ApiError
from spyglass.query.reads.params import check_json_param, invalid, parse_datetime
from spyglass.query.reads.sql import FLOAT, STRING, STRINGS, TIME, Params

# Column kinds and the filter types that apply to them.
STRING_KIND = "string"
TIME_KIND = "datetime"
NUMBER_KIND = "number"
ARRAY_KIND = "array"
MAP_KIND = "map"
BOOL_KIND = "boolean"

_TYPES_FOR_KIND = {
    STRING_KIND: {"string", "stringOptions", "categoryOptions", "null"},
    TIME_KIND: {"datetime", "null"},
    NUMBER_KIND: {"number", "null"},
    ARRAY_KIND: {"arrayOptions", "stringOptions", "categoryOptions"},
    MAP_KIND: {"stringObject", "numberObject", "categoryOptions"},
    BOOL_KIND: {"boolean"},
}

_OPERATORS = {
    "datetime": {">", "<", ">=", "<="},
    "string": {"=", "contains", "does not contain", "starts with", "ends with"},
    "stringOptions": {"any of", "none of"},
    "categoryOptions": {"any of", "none of"},
    "arrayOptions": {"any of", "none of", "all of"},
    "number": {"=", ">", "<", ">=", "<="},
    "stringObject": {"=", "contains", "does not contain", "starts with", "ends with", "is set", "is not set"},
    "numberObject": {"=", ">", "<", ">=", "<="},
    "boolean": {"=", "<>"},
    "null": {"is null", "is not null"},
}

_COMPARE = {"=": "=", ">": ">", "<": "<", ">=": ">=", "<=": "<=", "<>": "!="}


class Column(msgspec.Struct, frozen=True):
    """A filterable column: `sql` is an expression over the (latest) row, written by us."""

    sql: str
    kind: str
    # Trace-level columns of observation/score endpoints: compiled against the traces table.
    on_trace: bool = False


class Compiled(msgspec.Struct):
    row: list[str]
    trace: list[str]


def parse(raw: str | None) -> list[dict[str, Any]]:
    """The decoded filter array ([] when absent); 400 on malformed JSON or a non-array."""
    if raw is None or raw.strip() == "":
        return []
    check_json_param("filter", raw)
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise invalid("filter", "malformed JSON (expected a JSON array of filter conditions)") from None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise invalid("filter", "expected a JSON array of filter objects")
    return value


def compile_filters(conditions: list[dict[str, Any]], columns: Mapping[str, Column], params: Params) -> Compiled:
    out = Compiled(row=[], trace=[])
    for i, cond in enumerate(conditions):
        predicate, on_trace = _compile_one(i, cond, columns, params)
        (out.trace if on_trace else out.row).append(predicate)
    return out


def _bad(i: int, message: str) -> ApiError:
    return invalid("filter", f"condition {i}: {message}")


def _compile_one(i: int, cond: Mapping[str, Any], columns: Mapping[str, Column], params: Params) -> tuple[str, bool]:
    ftype = cond.get("type")
    name = cond.get("column")
    op = cond.get("operator")
    if not isinstance(ftype, str) or ftype not in _OPERATORS:
        raise _bad(i, f"'type' must be one of {', '.join(sorted(_OPERATORS))}, got {ftype!r}")
    if not isinstance(name, str) or name not in columns:
        raise _bad(i, f"unknown column {name!r}; filterable columns: {', '.join(sorted(columns))}")
    if not isinstance(op, str) or op not in _OPERATORS[ftype]:
        allowed = ", ".join(sorted(_OPERATORS[ftype]))
        raise _bad(i, f"operator {op!r} is not valid for type {ftype} (allowed: {allowed})")
    col = columns[name]
    if ftype not in _TYPES_FOR_KIND[col.kind]:
        raise _bad(i, f"column {name!r} cannot be filtered with type {ftype}")
    value = cond.get("value")
    expr = col.sql
    if col.kind == MAP_KIND:
        key = cond.get("key")
        if not isinstance(key, str) or not key:
            raise _bad(i, f"type {ftype} on column {name!r} needs a 'key'")
        expr = f"{col.sql}[{params.bind(key, STRING)}]"
        if ftype == "stringObject" and op in ("is set", "is not set"):
            contains = f"mapContains({col.sql}, {params.bind(key, STRING)})"
            return (contains if op == "is set" else f"NOT {contains}"), col.on_trace
    return _predicate(i, ftype, op, expr, col, value, params), col.on_trace


def _predicate(i: int, ftype: str, op: str, expr: str, col: Column, value: Any, params: Params) -> str:
    if ftype == "null":
        return f"{expr} IS NULL" if op == "is null" else f"{expr} IS NOT NULL"
    if ftype == "datetime":
        if not isinstance(value, str):
            raise _bad(i, "datetime value must be an ISO 8601 string")
        moment = parse_datetime("filter", value)
        return f"{expr} {_COMPARE[op]} {params.bind(moment, TIME)}"
    if ftype in ("number", "numberObject"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad(i, f"{ftype} value must be a number")
        target = f"toFloat64OrNull({expr})" if ftype == "numberObject" else expr
        return f"{target} {_COMPARE[op]} {params.bind(float(value), FLOAT)}"
    if ftype == "boolean":
        if not isinstance(value, bool):
            raise _bad(i, "boolean value must be true or false")
        return f"{expr} {_COMPARE[op]} {1 if value else 0}"
    if ftype in ("string", "stringObject"):
        if not isinstance(value, str):
            raise _bad(i, f"{ftype} value must be a string")
        return _string_predicate(op, expr, params.bind(value, STRING))
    # Options: a list of strings.
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(i, f"{ftype} value must be an array of strings")
    bound = params.bind(value, STRINGS)
    if col.kind == ARRAY_KIND:
        if op == "all of":
            return f"hasAll({expr}, {bound})"
        return f"hasAny({expr}, {bound})" if op == "any of" else f"NOT hasAny({expr}, {bound})"
    return f"{expr} IN {bound}" if op == "any of" else f"({expr} IS NULL OR {expr} NOT IN {bound})"


def _string_predicate(op: str, expr: str, bound: str) -> str:
    # Case-insensitive like upstream's ILIKE, without LIKE's wildcard escaping pitfalls.
    if op == "=":
        return f"{expr} = {bound}"
    if op == "contains":
        return f"positionCaseInsensitiveUTF8({expr}, {bound}) > 0"
    if op == "does not contain":
        return f"positionCaseInsensitiveUTF8(ifNull({expr}, ''), {bound}) = 0"
    if op == "starts with":
        return f"startsWith(lowerUTF8({expr}), lowerUTF8({bound}))"
    return f"endsWith(lowerUTF8({expr}), lowerUTF8({bound}))"
