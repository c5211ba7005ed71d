"""JSON error answers in Langfuse's shape: `{"message": ..., "error": ...}`."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

_encode = msgspec.json.encode


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=_encode(data), status=status, content_type="application/json", headers=headers)


_ERROR_NAMES = {
    400: "InvalidRequestError",
    401: "UnauthorizedError",
    403: "AccessDeniedError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    409: "ConflictError",
    413: "PayloadTooLargeError",
    415: "UnsupportedMediaTypeError",
    429: "TooManyRequestsError",
    503: "ServiceUnavailableError",
}


class ApiError(Exception):
    """Raise anywhere in a handler; the error middleware renders it as JSON."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, error: Any = None) -> None:
        super().__init__(message)
        self.status_code = status
        self.message = message
        self.headers = headers or {}
        self.error = error if error is not None else _ERROR_NAMES.get(status, "Error")

    def to_response(self) -> web.Response:
        return json_response({"message": self.message, "error": self.error}, self.status_code, self.headers)


# Ingestion needs a project to file payloads under; every receiver answers an organization key so.
ORG_KEY_CANNOT_INGEST = "Forbidden: an organization key cannot ingest; use a project key"


def bad_request(message: str, error: Any = None) -> ApiError:
    return ApiError(400, message, error=error)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)
