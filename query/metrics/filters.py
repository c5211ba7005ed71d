"""Metrics filters (`{column, operator, value, type, key?}`) → SQL conditions with bound values.

The filter types and operators are Langfuse's. A column is a dimension of the view, the view's
time column (datetime filters), or `metadata` (stringObject/numberObject filters with a `key`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from spyglass.query.metrics.catalog import ColumnType, View
from spyglass.query.metrics.errors import QueryError
from spyglass.query.metrics.spec import FilterSpec, ch_datetime, parse_timestamp

STRING_OPERATORS = ("=", "!=", "contains", "does not contain", "starts with", "ends with")
OPTIONS_OPERATORS = ("any of", "none of")
ARRAY_OPERATORS = ("any of", "none of", "all of")
NUMBER_OPERATORS = ("=", "!=", ">", "<", ">=", "<=")
DATETIME_OPERATORS = (">", "<", ">=", "<=")
BOOLEAN_OPERATORS = ("=", "<>")
NULL_OPERATORS = ("is null", "is not null")

FILTER_TYPES = (
    "string",
    "stringOptions",
    "categoryOptions",
    "arrayOptions",
    "number",
    "datetime",
    "stringObject",
    "numberObject",
    "boolean",
    "null",
)

# Which filter types make sense on which kind of column.
_TYPES_FOR: dict[str, tuple[str, ...]] = {
    "string": ("string", "stringOptions", "categoryOptions", "null"),
    "number": ("number", "string", "stringOptions", "categoryOptions", "null"),
    "string[]": ("arrayOptions", "null"),
    "boolean": ("boolean", "null"),
    "datetime": ("datetime", "null"),
    "map": ("stringObject", "numberObject", "null"),
}


class Column(msgspec.Struct, frozen=True):
    name: str
    sql: str
    type: ColumnType | str
    relation: str | None = None


class CompiledFilter(msgspec.Struct, frozen=True):
    sql: str
    relation: str | None


def resolve_column(name: str, view: View) -> Column:
    dim = view.dimensions.get(name)
    if dim is None and name.endswith("Name") and name != "name" and "name" in view.dimensions:
        # Langfuse's UI sometimes says traceName/scoreName for the view's own name; it maps
        # those to `name`, and so do we.
        dim = view.dimensions["name"]
    if dim is not None:
        return Column(name, dim.filter_sql or dim.sql, dim.type, dim.relation)
    if name in view.time_fields:
        return Column(name, f"{view.table}.{view.time_column}", "datetime")
    if name == "metadata":
        return Column(name, f"{view.table}.metadata", "map")
    allowed = sorted([*view.dimensions, *view.time_fields, "metadata"])
    raise QueryError(f"Invalid filter column '{name}' for view '{view.name}'. Must be one of: {', '.join(allowed)}")


def _text(sql: str) -> str:
    # Missing and empty strings compare alike, so "none of" keeps rows without a value.
    return f"ifNull(toString({sql}), '')"


def _string_value(f: FilterSpec) -> str:
    if not isinstance(f.value, str):
        raise QueryError(f"Invalid filter on '{f.column}': type '{f.type}' needs a string value")
    return f.value


def _string_list(f: FilterSpec) -> list[str]:
    if not isinstance(f.value, list) or not all(isinstance(v, str) for v in f.value):
        raise QueryError(f"Invalid filter on '{f.column}': type '{f.type}' needs an array of strings as value")
    return list(f.value)


def _number(f: FilterSpec) -> float:
    if isinstance(f.value, bool) or not isinstance(f.value, int | float):
        raise QueryError(f"Invalid filter on '{f.column}': type '{f.type}' needs a numeric value")
    return float(f.value)


def _check_operator(f: FilterSpec, allowed: tuple[str, ...]) -> None:
    if f.operator not in allowed:
        raise QueryError(
            f"Invalid operator '{f.operator}' for filter type '{f.type}' on '{f.column}'. "
            f"Must be one of: {', '.join(allowed)}"
        )


def _string_condition(expr: str, op: str, param: str) -> str:
    return {
        "=": f"{expr} = {param}",
        "!=": f"{expr} != {param}",
        "contains": f"position({expr}, {param}) > 0",
        "does not contain": f"position({expr}, {param}) = 0",
        "starts with": f"startsWith({expr}, {param})",
        "ends with": f"endsWith({expr}, {param})",
    }[op]


def compile_filter(f: FilterSpec, view: View, index: int, params: dict[str, Any]) -> CompiledFilter:
    """One filter as a SQL condition; its values are added to `params` under f{index}*."""
    if f.type not in FILTER_TYPES:
        raise QueryError(f"Invalid filter type '{f.type}' on '{f.column}'. Must be one of: {', '.join(FILTER_TYPES)}")
    column = resolve_column(f.column, view)
    valid = _TYPES_FOR[column.type]
    if f.type not in valid:
        hint = " Array fields need type 'arrayOptions'." if column.type == "string[]" else ""
        hint += (
            " Metadata filters need type 'stringObject' or 'numberObject' with a 'key'." if column.type == "map" else ""
        )
        raise QueryError(
            f"Invalid filter type '{f.type}' for column '{f.column}' ({column.type}). "
            f"Must be one of: {', '.join(valid)}.{hint}"
        )
    name = f"f{index}"
    build = _BUILDERS[f.type]
    return CompiledFilter(build(f, column, name, params), column.relation)


def _metadata_entry(f: FilterSpec, column: Column, name: str, params: dict[str, Any]) -> str:
    if not f.key:
        raise QueryError(f"Invalid filter on '{f.column}': type '{f.type}' needs a 'key' (the metadata key)")
    params[f"{name}k"] = f.key
    return f"{column.sql}[{{{name}k:String}}]"


def _build_string(f: FilterSpec, column: Column, name: str, params: dict[str, Any]) -> str:
    _check_operator(f, STRING_OPERATORS)
    params[name] = _string_value(f)
    return _string_condition(_text(column.sql), f.operator, f"{{{name}:String}}")


def _build_options(f: FilterSpec, column: Column, name: str, params: dict[str, Any]) -> str:
    _check_operator(f, OPTIONS_OPERATORS)
    params[name] = _string_list(f)
    found = f"has({{{name}:Array(String)}}, {_text(column.sql)})"
    return found if f.operator == "any of" else f"NOT {found}"


def _build_array(f: FilterSpec, column: Column, name: str, params: dict[str, Any]) -> str:
    _check_operator(f, ARRAY_OPERATORS)
    params[name] = _string_list(f)
    values = f"{{{name}:Array(String)}}"
    return {
        "any of": f"hasAny({column.sql}, {values})",
        "all of": f"hasAll({column.sql}, {values})",
        "none of": f"NOT hasAny({column.sql}, {values})",
    }[f.operator]


def _build_number(f: FilterSpec, column: Column, name: str, params: dict[str, Any]) -> str:
    _check_operator(f, NUMBER_OPERATORS)
    params[name] = _number(f)
    return f"{column.sql} {f.operator} {{{name}:Float64}}"


def _build_datetime(f: FilterSpec, column: Column, name: str, params: dict[str, Any]) -> str:
    _check_operator(f, DATETIME_OPERATORS)
    params[name] = ch_datetime(parse_timestamp(_string_value(f), f"filter value for '{f.column}'"))
    return f"{column.sql} {f.operator} {{{name}:DateTime64(6, 'UTC')}}"


def _build_string_object(f: FilterSpec, column: Column, name: str, params: dict[str, Any]) -> str:
    _check_operator(f, STRING_OPERATORS)
    entry = _metadata_entry(f, column, name, params)
    params[name] = _string_value(f)
    return _string_condition(entry, f.operator, f"{{{name}:String}}")


def _build_number_object(f: FilterSpec, column: Column, name: str, params: dict[str, Any]) -> str:
    _check_operator(f, NUMBER_OPERATORS)
    entry = _metadata_entry(f, column, name, params)
    params[name] = _number(f)
    return f"toFloat64OrNull({entry}) {f.operator} {{{name}:Float64}}"


def _build_boolean(f: FilterSpec, column: Column, name: str, params: dict[str, Any]) -> str:
    _check_operator(f, BOOLEAN_OPERATORS)
    if not isinstance(f.value, bool):
        raise QueryError(f"Invalid filter on '{f.column}': type 'boolean' needs true or false as value")
    params[name] = f.value
    return f"{column.sql} {'=' if f.operator == '=' else '!='} {{{name}:Bool}}"


def _build_null(f: FilterSpec, column: Column, name: str, params: dict[str, Any]) -> str:
    _check_operator(f, NULL_OPERATORS)
    if column.type == "map":
        present = (
            f"mapContains({column.sql}, {{{name}k:String}})" if _keyed(f, name, params) else f"notEmpty({column.sql})"
        )
    elif column.type == "string[]":
        present = f"notEmpty({column.sql})"
    elif column.type == "string":
        present = f"{_text(column.sql)} != ''"
    else:
        present = f"isNotNull({column.sql})"
    return present if f.operator == "is not null" else f"NOT ({present})"


def _keyed(f: FilterSpec, name: str, params: dict[str, Any]) -> bool:
    if not f.key:
        return False
    params[f"{name}k"] = f.key
    return True


_BUILDERS: dict[str, Callable[[FilterSpec, Column, str, dict[str, Any]], str]] = {
    "string": _build_string,
    "stringOptions": _build_options,
    "categoryOptions": _build_options,
    "arrayOptions": _build_array,
    "number": _build_number,
    "datetime": _build_datetime,
    "stringObject": _build_string_object,
    "numberObject": _build_number_object,
    "boolean": _build_boolean,
    "null": _build_null,
}
