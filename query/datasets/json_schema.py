"""A small JSON Schema validator for dataset item input / expected output.

Covers the vocabulary people write by hand (drafts 4 to 2020-12): type, enum, const, the
string/number/array/object constraints, allOf/anyOf/oneOf/not, if/then/else, dependentRequired
and local `$ref`s (`#`, `#/$defs/...`, `#/definitions/...`). `format` is an annotation only, as
the specification's default says. Errors name the JSON path of the offending value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import msgspec

_TYPES = {"null", "boolean", "object", "array", "number", "string", "integer"}
_MAX_ERRORS = 10


class SchemaError(ValueError):
    """The schema itself is unusable."""


def _is_type(value: Any, name: str) -> bool:
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if name == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    return False


def _type_name(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _is_type(value, name):
            return name
    return type(value).__name__


def _equal(a: Any, b: Any) -> bool:
    # JSON equality: 1 == 1.0 but True != 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_type(a, "number") and _is_type(b, "number"):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{path}.{key}"
    return f"{path}[{msgspec.json.encode(key).decode()}]"


class JsonSchema:
    """A checked schema; `errors(value)` lists what is wrong with a value (empty = valid)."""

    def __init__(self, schema: Any) -> None:
        if not isinstance(schema, dict | bool):
            raise SchemaError(f"a JSON Schema must be an object or a boolean, got {_type_name(schema)}")
        self.schema = schema
        self._patterns: dict[str, re.Pattern[str]] = {}
        self._check(schema, "#")

    # ---- schema check -------------------------------------------------------------------

    def _pattern(self, text: str) -> re.Pattern[str]:
        compiled = self._patterns.get(text)
        if compiled is None:
            try:
                compiled = re.compile(text)
            except re.error as exc:
                raise SchemaError(f"invalid regular expression {text!r}: {exc}") from None
            self._patterns[text] = compiled
        return compiled

    def _check(self, node: Any, where: str) -> None:
        if isinstance(node, bool):
            return
        if not isinstance(node, dict):
            raise SchemaError(f"{where}: a subschema must be an object or a boolean")
        kind = node.get("type")
        kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
        for k in kinds:
            if k not in _TYPES:
                raise SchemaError(f"{where}: unknown type {k!r} (expected one of {', '.join(sorted(_TYPES))})")
        required = node.get("required")
        if required is not None and not (isinstance(required, list) and all(isinstance(r, str) for r in required)):
            raise SchemaError(f"{where}: 'required' must be a list of property names")
        for key in ("pattern",):
            if key in node:
                if not isinstance(node[key], str):
                    raise SchemaError(f"{where}: '{key}' must be a string")
                self._pattern(node[key])
        for key in ("patternProperties",):
            for pattern, sub in (node.get(key) or {}).items():
                self._pattern(pattern)
                self._check(sub, f"{where}/{key}/{pattern}")
        for key in ("properties", "$defs", "definitions", "dependentSchemas"):
            children = node.get(key)
            if children is not None:
                if not isinstance(children, dict):
                    raise SchemaError(f"{where}: '{key}' must be an object")
                for name, sub in children.items():
                    self._check(sub, f"{where}/{key}/{name}")
        for key in (
            "additionalProperties",
            "items",
            "additionalItems",
            "contains",
            "not",
            "if",
            "then",
            "else",
            "propertyNames",
            "unevaluatedProperties",
            "unevaluatedItems",
        ):
            if key in node:
                sub = node[key]
                if key == "items" and isinstance(sub, list):
                    for i, s in enumerate(sub):
                        self._check(s, f"{where}/items/{i}")
                else:
                    self._check(sub, f"{where}/{key}")
        for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
            if key in node:
                subs = node[key]
                if not isinstance(subs, list) or not subs:
                    raise SchemaError(f"{where}: '{key}' must be a non-empty list of schemas")
                for i, s in enumerate(subs):
                    self._check(s, f"{where}/{key}/{i}")
        if "$ref" in node:
            self._resolve(node["$ref"], where)

    def _resolve(self, ref: Any, where: str) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaError(f"{where}: only local $ref values ('#/...') are supported, got {ref!r}")
        target: Any = self.schema
        for raw in [p for p in ref[1:].split("/") if p]:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                raise SchemaError(f"{where}: $ref {ref!r} points at nothing")
        return target

    # ---- validation ---------------------------------------------------------------------

    def errors(self, value: Any, root: str = "$") -> list[str]:
        out: list[str] = []
        for problem in self._validate(self.schema, value, root, 0):
            out.append(problem)
            if len(out) >= _MAX_ERRORS:
                break
        return out

    def _ok(self, node: Any, value: Any, path: str, depth: int) -> bool:
        return next(self._validate(node, value, path, depth), None) is None

    def _validate(self, node: Any, value: Any, path: str, depth: int) -> Iterator[str]:
        if depth > 64:
            yield f"{path}: schema nesting too deep (recursive $ref?)"
            return
        if node is True:
            return
        if node is False:
            yield f"{path}: no value is allowed here"
            return
        if "$ref" in node:
            yield from self._validate(self._resolve(node["$ref"], path), value, path, depth + 1)
        kind = node.get("type")
        if kind is not None:
            kinds = kind if isinstance(kind, list) else [kind]
            if not any(_is_type(value, k) for k in kinds):
                yield f"{path}: expected {' or '.join(kinds)}, got {_type_name(value)}"
                return
        if "enum" in node and not any(_equal(value, option) for option in node["enum"]):
            yield f"{path}: must be one of {msgspec.json.encode(node['enum']).decode()}"
        if "const" in node and not _equal(value, node["const"]):
            yield f"{path}: must equal {msgspec.json.encode(node['const']).decode()}"
        if isinstance(value, str):
            yield from self._string(node, value, path)
        elif _is_type(value, "number"):
            yield from self._number(node, value, path)
        elif isinstance(value, list):
            yield from self._array(node, value, path, depth)
        elif isinstance(value, dict):
            yield from self._object(node, value, path, depth)
        for sub in node.get("allOf", []):
            yield from self._validate(sub, value, path, depth + 1)
        if "anyOf" in node and not any(self._ok(s, value, path, depth + 1) for s in node["anyOf"]):
            yield f"{path}: does not match any of the allowed schemas (anyOf)"
        if "oneOf" in node:
            matches = sum(1 for s in node["oneOf"] if self._ok(s, value, path, depth + 1))
            if matches != 1:
                yield f"{path}: must match exactly one schema (oneOf), matched {matches}"
        if "not" in node and self._ok(node["not"], value, path, depth + 1):
            yield f"{path}: must not match the schema under 'not'"
        if "if" in node:
            branch = "then" if self._ok(node["if"], value, path, depth + 1) else "else"
            if branch in node:
                yield from self._validate(node[branch], value, path, depth + 1)

    def _string(self, node: dict[str, Any], value: str, path: str) -> Iterator[str]:
        length = len(value)
        if "minLength" in node and length < node["minLength"]:
            yield f"{path}: must be at least {node['minLength']} characters long"
        if "maxLength" in node and length > node["maxLength"]:
            yield f"{path}: must be at most {node['maxLength']} characters long"
        if "pattern" in node and not self._pattern(node["pattern"]).search(value):
            yield f"{path}: must match the pattern {node['pattern']!r}"

    def _number(self, node: dict[str, Any], value: float, path: str) -> Iterator[str]:
        lo, hi = node.get("minimum"), node.get("maximum")
        ex_lo, ex_hi = node.get("exclusiveMinimum"), node.get("exclusiveMaximum")
        # Draft 4 spelled exclusivity as booleans next to minimum/maximum.
        if ex_lo is True:
            ex_lo, lo = lo, None
        if ex_hi is True:
            ex_hi, hi = hi, None
        if isinstance(lo, int | float) and value < lo:
            yield f"{path}: must be >= {lo}"
        if isinstance(hi, int | float) and value > hi:
            yield f"{path}: must be <= {hi}"
        if isinstance(ex_lo, int | float) and not isinstance(ex_lo, bool) and value <= ex_lo:
            yield f"{path}: must be > {ex_lo}"
        if isinstance(ex_hi, int | float) and not isinstance(ex_hi, bool) and value >= ex_hi:
            yield f"{path}: must be < {ex_hi}"
        step = node.get("multipleOf")
        if isinstance(step, int | float) and step > 0:
            quotient = value / step
            if not math.isclose(quotient, round(quotient), rel_tol=0, abs_tol=1e-9):
                yield f"{path}: must be a multiple of {step}"

    def _array(self, node: dict[str, Any], value: list[Any], path: str, depth: int) -> Iterator[str]:
        if "minItems" in node and len(value) < node["minItems"]:
            yield f"{path}: must have at least {node['minItems']} items"
        if "maxItems" in node and len(value) > node["maxItems"]:
            yield f"{path}: must have at most {node['maxItems']} items"
        if node.get("uniqueItems") is True:
            for i in range(len(value)):
                if any(_equal(value[i], value[j]) for j in range(i)):
                    yield f"{path}: items must be unique ({_path(path, i)} repeats an earlier item)"
                    break
        prefix = node.get("prefixItems")
        items = node.get("items")
        if isinstance(items, list):  # draft 4-7 tuple form
            prefix, items = items, node.get("additionalItems")
        start = 0
        if isinstance(prefix, list):
            for i, sub in enumerate(prefix[: len(value)]):
                yield from self._validate(sub, value[i], _path(path, i), depth + 1)
            start = len(prefix)
        if items is not None:
            for i in range(start, len(value)):
                yield from self._validate(items, value[i], _path(path, i), depth + 1)
        if "contains" in node:
            found = sum(1 for v in value if self._ok(node["contains"], v, path, depth + 1))
            least = node.get("minContains", 1)
            if found < least:
                yield f"{path}: must contain at least {least} matching item(s) ('contains')"
            if "maxContains" in node and found > node["maxContains"]:
                yield f"{path}: must contain at most {node['maxContains']} matching item(s) ('contains')"

    def _object(self, node: dict[str, Any], value: dict[str, Any], path: str, depth: int) -> Iterator[str]:
        for name in node.get("required", []):
            if name not in value:
                yield f"{path}: missing required property '{name}'"
        if "minProperties" in node and len(value) < node["minProperties"]:
            yield f"{path}: must have at least {node['minProperties']} properties"
        if "maxProperties" in node and len(value) > node["maxProperties"]:
            yield f"{path}: must have at most {node['maxProperties']} properties"
        for name, needs in (node.get("dependentRequired") or {}).items():
            if name in value:
                for other in needs:
                    if other not in value:
                        yield f"{path}: property '{other}' is required when '{name}' is present"
        props: dict[str, Any] = node.get("properties") or {}
        patterns: dict[str, Any] = node.get("patternProperties") or {}
        extra = node.get("additionalProperties", node.get("unevaluatedProperties"))
        names = node.get("propertyNames")
        for key, item in value.items():
            where = _path(path, key)
            if names is not None and not self._ok(names, key, where, depth + 1):
                yield f"{where}: property name {key!r} is not allowed (propertyNames)"
            matched = False
            if key in props:
                matched = True
                yield from self._validate(props[key], item, where, depth + 1)
            for pattern, sub in patterns.items():
                if self._pattern(pattern).search(key):
                    matched = True
                    yield from self._validate(sub, item, where, depth + 1)
            if not matched and extra is not None:
                if extra is False:
                    yield f"{where}: property '{key}' is not allowed (additionalProperties is false)"
                else:
                    yield from self._validate(extra, item, where, depth + 1)
        for name, sub in (node.get("dependentSchemas") or {}).items():
            if name in value:
                yield from self._validate(sub, value, path, depth + 1)
