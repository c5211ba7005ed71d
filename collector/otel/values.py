"""Small value conversions used all over the mapper: JSON text, times, environments, tags.

How input/output strings are stored (the one rule every reader relies on):
an attribute that arrived as a *string* is stored exactly as sent, JSON text or not; a
non-string attribute (number, bool, array, kvlist) or a structure we assemble ourselves
(messages rebuilt from flattened keys, span events) is stored as compact JSON text. The
reader applies "parse as JSON, else the raw string". So a client's raw `hello` reads back
as the string "hello", its JSON `"hello"` also as "hello", and `{"a":1}` as an object.
The only ambiguity is the client's own: the py SDK sends the string "123" and the number
123 both as `123`, which reads back as a number. Storing verbatim also means no 2 KB
prompt is parsed and re-encoded on the hot path.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec

from spyglass.collector.json_depth import MAX_JSON_DEPTH, too_deep

_encode = msgspec.json.encode
_decode = msgspec.json.decode
_DecodeError = msgspec.DecodeError

MISSING: Final = object()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)


def text_or_json(value: Any) -> str:
    """A str as it is, anything else as compact JSON text (see the module docstring)."""
    if type(value) is str:
        return value
    return _encode(value).decode()


_encode_sorted = msgspec.json.Encoder(order="sorted").encode


def json_sorted(value: Any) -> str:
    """JSON text with object keys sorted: for attribute maps, whose order is not part of
    their meaning (and which the protobuf path once read in hash order)."""
    return _encode_sorted(value).decode()


def json_or_none(value: Any) -> str | None:
    return None if value is None else text_or_json(value)


def parse_json(text: str) -> Any:
    """The decoded value, or MISSING when the text is not JSON (or nests deeper than any JSON
    Spyglass accepts: kept as text, it cannot exceed the recursion limit later)."""
    if isinstance(text, str) and len(text) > 2 * MAX_JSON_DEPTH and too_deep(text):
        return MISSING
    try:
        return _decode(text)
    except (_DecodeError, TypeError, ValueError):
        return MISSING


def parse_or_raw(value: Any) -> Any:
    """Upstream's "JSON.parse, else keep the raw string" for string attributes."""
    if type(value) is not str:
        return value
    parsed = parse_json(value)
    return value if parsed is MISSING else parsed


def parse_json_object(value: Any) -> dict[str, Any] | None:
    """A dict from a JSON-object string (or a kvlist attribute); None for anything else."""
    if type(value) is dict:
        return value
    if type(value) is str and value[:1] == "{":
        parsed = parse_json(value)
        if type(parsed) is dict:
            return parsed
    return None


def map_value(value: Any) -> str:
    """One value of a Map(String, String) column: strings as is, anything else as JSON."""
    if type(value) is str:
        return value
    return _encode(value).decode()


def metadata_value(value: Any) -> str:
    """A `…metadata.<key>` attribute → its map value.

    The py SDK JSON-encodes every value (`"acme"` arrives as `"\\"acme\\""`), JS and hand
    instrumentation send it raw (`acme`). Decoding "JSON, else raw" and re-encoding
    non-strings gives the same map value for both. Only a quoted string needs decoding:
    any other JSON text (numbers, objects, arrays) already *is* its map value.
    """
    if type(value) is not str:
        return map_value(value)
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        inner = value[1:-1]
        # Without quotes, escapes or control characters inside, the JSON string decodes
        # to exactly its inner text: skip the parser.
        if '"' not in inner and "\\" not in inner and inner.isprintable():
            return inner
        parsed = parse_json(value)
        if type(parsed) is str:
            return parsed
    return value


def nanos_to_seconds(ns: int) -> float:
    """Float epoch seconds, exact to the microsecond.

    Integer microseconds divided by 1e6 is the float nearest the decimal value (IEEE
    division is correctly rounded and both operands are exact below 2**53), and the
    shortest repr of that float is the decimal itself — what ClickHouse's DateTime64(6)
    parses back without loss.
    """
    return (ns // 1000) / 1e6


def iso_to_seconds(text: str) -> float | None:
    """ISO-8601 (naive = UTC) → epoch seconds exact to the microsecond; None if unparsable."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except (ValueError, TypeError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        micros = (moment - _EPOCH) // _ONE_MICROSECOND
    except OverflowError:
        return None
    return micros / 1e6


def seconds_to_iso(seconds: float) -> str:
    micros = round(seconds * 1_000_000)
    moment = datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def nanos_to_iso(ns: int) -> str:
    return seconds_to_iso(nanos_to_seconds(ns))


_ENV_PREFIX = re.compile(r"^(?:langfuse[-_]?)+")
_ENV_VALID = re.compile(r"[a-z0-9_-]+")
DEFAULT_ENVIRONMENT = "default"


def _normalize_environment(raw: str) -> str:
    name = _ENV_PREFIX.sub("", raw.lower())[:40]
    return name if _ENV_VALID.fullmatch(name) else DEFAULT_ENVIRONMENT


# A project has a handful of environments, so caching pays (a plain dict: every span asks);
# only short values are kept, and a client inventing environments only refills it.
_environments: dict[str, str] = {}
_ENVIRONMENTS_LIMIT = 1024


def normalize_environment(raw: Any) -> str:
    """Lowercase, strip leading `langfuse[-_]` (reserved for internal use), cut to 40
    characters; anything that is then not `[a-z0-9_-]+` becomes `default`. Shared by the OTel
    mapper and the ingestion API: environments are normalized, never a reason to reject."""
    if raw is None:
        return DEFAULT_ENVIRONMENT
    text = raw if type(raw) is str else str(raw)
    if len(text) > 100:
        return _normalize_environment(text)
    name = _environments.get(text)
    if name is None:
        name = _normalize_environment(text)
        if len(_environments) >= _ENVIRONMENTS_LIMIT:
            _environments.clear()
        _environments[text] = name
    return name


def to_text(value: Any) -> str | None:
    """A scalar attribute as a non-empty string (ids, names); None when empty or absent."""
    if value is None or value == "":
        return None
    if type(value) is str:
        return value
    if isinstance(value, (list, dict)):
        return text_or_json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_bool(value: Any) -> bool | None:
    if value is True or value is False:
        return value
    if type(value) is str:
        lowered = value.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return None


def to_tags(value: Any) -> list[str]:
    """Tags sent as an array, a JSON-array string, a comma-separated string or one string."""
    if value is None:
        return []
    if type(value) is str:
        text = value.strip()
        if text[:1] == "[":
            parsed = parse_json(text)
            if type(parsed) is list:
                value = parsed
            else:
                return [tag for tag in (t.strip() for t in text.split(",")) if tag]
        else:
            return [tag for tag in (t.strip() for t in text.split(",")) if tag]
    if type(value) is list:
        for tag in value:
            if type(tag) is not str:
                break
        else:
            return [tag for tag in value if tag]  # what the SDKs send
    if isinstance(value, (list, tuple)):
        tags = []
        for item in value:
            item_text = to_text(item)
            if item_text:
                tags.append(item_text)
        return tags
    single = to_text(value)
    return [single] if single else []


def to_count(value: Any) -> int | None:
    """A token count: a non-negative integer (numeric strings and integral floats accepted)."""
    if type(value) is int:
        return value if 0 <= value < 2**63 else None
    if type(value) is float:
        if value.is_integer() and 0 <= value < 2**63:
            return int(value)
        return None
    if type(value) is str:
        try:
            number = float(value) if ("." in value or "e" in value.lower()) else int(value)
        except ValueError:
            return None
        return to_count(number)
    return None


def to_amount(value: Any) -> float | None:
    """A cost: a non-negative finite number (numeric strings accepted)."""
    if type(value) is bool:
        return None
    if type(value) in (int, float):
        number = float(value)
    elif type(value) is str:
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    if not math.isfinite(number) or number < 0:
        return None
    return number


def to_number(value: Any) -> int | float | None:
    """Any numeric attribute (int, float or numeric string) as a number."""
    if type(value) is int or type(value) is float:
        return value
    if type(value) is str:
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
    return None
