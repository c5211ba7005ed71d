"""The JSON Schema subset that validates dataset item input and expected output."""

from __future__ import annotations

from typing import Any

import pytest

from spyglass.query.datasets.json_schema import JsonSchema, SchemaError

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "pattern": "^[A-Z]"},
        "age": {"type": "integer", "minimum": 0, "exclusiveMaximum": 150},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "maxItems": 3},
        "role": {"enum": ["admin", "user"]},
        "address": {"$ref": "#/$defs/address"},
    },
    "required": ["name"],
    "additionalProperties": False,
    "$defs": {"address": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}},
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"name": "Ada", "age": 36, "tags": ["x"], "role": "admin", "address": {"city": "London"}}, []),
        ({"name": "ada"}, ["$.name: must match the pattern '^[A-Z]'"]),
        ({"name": "Ada", "age": 1.5}, ["$.age: expected integer, got number"]),
        ({"name": "Ada", "age": 150}, ["$.age: must be < 150"]),
        ({"name": "Ada", "age": True}, ["$.age: expected integer, got boolean"]),
        ({"name": "Ada", "tags": ["a", "a"]}, ["$.tags: items must be unique ($.tags[1] repeats an earlier item)"]),
        ({"name": "Ada", "tags": ["a", 2]}, ["$.tags[1]: expected string, got integer"]),
        ({"name": "Ada", "role": "root"}, ['$.role: must be one of ["admin","user"]']),
        ({"name": "Ada", "address": {}}, ["$.address: missing required property 'city'"]),
        (
            {"name": "Ada", "x-extra": 1},
            ["$[\"x-extra\"]: property 'x-extra' is not allowed (additionalProperties is false)"],
        ),
        ({}, ["$: missing required property 'name'"]),
        ([], ["$: expected object, got array"]),
    ],
)
def test_object_constraints(value: Any, expected: list[str]) -> None:
    assert JsonSchema(PERSON).errors(value) == expected


def test_combinators_and_conditionals() -> None:
    schema = JsonSchema(
        {
            "oneOf": [{"type": "integer"}, {"type": "number", "multipleOf": 0.5}],
            "not": {"const": 0},
        }
    )
    assert schema.errors(3) == ["$: must match exactly one schema (oneOf), matched 2"]
    assert schema.errors(2.5) == []
    assert schema.errors(0.2) == ["$: must match exactly one schema (oneOf), matched 0"]
    conditional = JsonSchema(
        {
            "if": {"properties": {"kind": {"const": "qa"}}},
            "then": {"required": ["answer"]},
            "else": {"maxProperties": 1},
        }
    )
    assert conditional.errors({"kind": "qa"}) == ["$: missing required property 'answer'"]
    assert conditional.errors({"kind": "other", "x": 1}) == ["$: must have at most 1 properties"]
    assert JsonSchema(True).errors({"anything": 1}) == []
    assert JsonSchema(False).errors(1) == ["$: no value is allowed here"]


def test_draft4_exclusive_bounds_and_tuples() -> None:
    assert JsonSchema({"minimum": 1, "exclusiveMinimum": True}).errors(1) == ["$: must be > 1"]
    tuple_schema = JsonSchema({"items": [{"type": "string"}, {"type": "number"}], "additionalItems": False})
    assert tuple_schema.errors(["a", 1]) == []
    assert tuple_schema.errors(["a", 1, None]) == ["$[2]: no value is allowed here"]


@pytest.mark.parametrize(
    ("schema", "needle"),
    [
        ({"type": "text"}, "unknown type 'text'"),
        ({"required": "name"}, "'required'"),
        ({"pattern": "("}, "invalid regular expression"),
        ({"$ref": "#/$defs/missing"}, "points at nothing"),
        ({"$ref": "other.json"}, "only local $ref"),
        ({"anyOf": []}, "non-empty list"),
        ([], "object or a boolean"),
    ],
)
def test_unusable_schemas_are_named(schema: Any, needle: str) -> None:
    with pytest.raises(SchemaError) as err:
        JsonSchema(schema)
    assert needle in str(err.value)


def test_recursive_schemas_terminate() -> None:
    tree = JsonSchema(
        {
            "$defs": {
                "node": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}
            },
            "$ref": "#/$defs/node",
        }
    )
    assert tree.errors({"kids": [{"kids": [{"kids": []}]}]}) == []
    assert tree.errors({"kids": [{"kids": 1}]}) == ["$.kids[0].kids: expected array, got integer"]
