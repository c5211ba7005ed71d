"""botocore exceptions → the Retryable/Permanent taxonomy."""

from __future__ import annotations

from botocore import exceptions as boto_errors
from botocore.exceptions import ClientError

from spyglass.store.errors import PermanentError, RetryableError, StoreError

# Codes S3 and S3-compatible servers use for "busy, try again".
_RETRYABLE_CODES = frozenset(
    {
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "Throttling",
        "ThrottlingException",
        "TooManyRequests",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "OperationAborted",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_retryable_client_error(exc: ClientError) -> bool:
    status = http_status(exc)
    return error_code(exc) in _RETRYABLE_CODES or status >= 500 or status == 429


def map_boto_error(exc: Exception, *, component: str, url: str, what: str) -> StoreError:
    """Wrap `exc` (raised while doing `what`) in RetryableError or PermanentError."""
    if isinstance(exc, ClientError):
        code = error_code(exc) or str(http_status(exc))
        message = exc.response.get("Error", {}).get("Message", "") or str(exc)
        kind = RetryableError if is_retryable_client_error(exc) else PermanentError
        return kind(component, f"{what}: {code}: {message}", url)
    if isinstance(exc, (boto_errors.ConnectionError, boto_errors.HTTPClientError, boto_errors.IncompleteReadError)):
        # Refused, reset, timed out, cut mid-body: the server may be back in a moment.
        return RetryableError(component, f"{what}: {exc}", url)
    if isinstance(exc, boto_errors.BotoCoreError):
        # No credentials, bad parameters, unknown endpoint: configuration, not weather.
        return PermanentError(component, f"{what}: {exc}", url)
    return PermanentError(component, f"{what}: {type(exc).__name__}: {exc}", url)
