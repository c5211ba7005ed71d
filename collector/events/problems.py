"""How validation problems are raised, described and reported.

Everything in this package validates inside msgspec's decode (struct ``__post_init__``), so a
problem found by our own rules travels as a ``msgspec.ValidationError`` alongside the ones msgspec
finds itself. msgspec appends the location of the struct that failed (`` - at `$.body` ``); our own
problems carry the field *relative to that struct* behind a marker, so the final message can name
the exact field the client sent (``body.usage.input: must be an integer``).
"""

from __future__ import annotations

import re

import msgspec

from spyglass.store.errors import SpyglassError

# A problem raised by our own rules starts with this marker, then "<relative field>: <text>".
_RELATIVE = "::"

_LOCATION = re.compile(r"^(?P<text>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")
_EXPECTED = re.compile(r"^Expected `(?P<want>[^`]+)`(?:, got `(?P<got>[^`]+)`)?$")
_BAD_TAG = re.compile(r"^Invalid value '(?P<value>.*)'$", re.DOTALL)

ISO_EXAMPLE = "2024-05-01T12:00:00.000Z"


class InvalidRequest(SpyglassError):
    """A whole request body is unusable (not JSON, wrong top-level shape, a single invalid score).

    The HTTP layer answers 400 with ``{"message": str(error)}``; per-event problems inside a valid
    batch never raise, they become :class:`EventError` entries of a 207 answer.
    """


class EventError(msgspec.Struct, kw_only=True):
    """One rejected event, shaped like an entry of the ingestion response's ``errors`` list."""

    id: str
    status: int = 400
    message: str
    error: str = "Invalid request data"


def field_problem(field: str, text: str) -> ValueError:
    """The exception a ``__post_init__`` raises for ``field`` (relative to its own struct)."""
    return ValueError(f"{_RELATIVE}{field}: {text}")


def _join(path: str, field: str) -> str:
    if not path:
        return field
    if not field:
        return path
    return f"{path}.{field}" if not field.startswith("[") else f"{path}{field}"


def describe(error: msgspec.DecodeError, root: str = "", subject: str = "event") -> str:
    """A one-line message naming the field and the problem, e.g. ``body.name: is required``.

    ``root`` prefixes every path (``"body"`` when a bare body was decoded, so paths read the same
    as inside an ingestion event); ``subject`` names the document itself when the problem is not
    inside any field (``event: expected object, got array``).
    """
    match = _LOCATION.match(str(error))
    assert match is not None  # the pattern matches any string
    text = match["text"]
    path = _join(root, (match["path"] or "").lstrip("."))
    if text.startswith(_RELATIVE):
        field, _, problem = text[len(_RELATIVE) :].partition(": ")
        return f"{_join(path, field)}: {problem}"
    if missing := _MISSING.match(text):
        return f"{_join(path, missing['field'])}: is required"
    if "RFC3339" in text:
        return f"{path or subject}: expected an ISO 8601 date-time such as {ISO_EXAMPLE}"
    if (bad_tag := _BAD_TAG.match(text)) and path.endswith("type"):
        return f"{path}: unknown event type '{bad_tag['value']}'"
    if expected := _EXPECTED.match(text):
        got = f", got {expected['got']}" if expected["got"] else ""
        return f"{path or subject}: expected {expected['want']}{got}"
    return f"{path or subject}: {text}"
