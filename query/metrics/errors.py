"""The one error the metrics compiler raises: the client's query is not acceptable (HTTP 400)."""

from __future__ import annotations


class QueryError(ValueError):
    """A query the API must refuse; the message names the offending view, field or operator."""
