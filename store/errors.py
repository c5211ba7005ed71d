"""Error taxonomy shared by every layer.

As in the OpenTelemetry Collector, the *kind* of an error decides what happens next:
a RetryableError is tried again with backoff (connection refused, timeout, overload);
a PermanentError never is (bad data, schema violation) and goes to the dead-letter area.
"""

from __future__ import annotations

import re

_SECRET_IN_URL = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@]*):(?P<pw>[^@/]*)@")


def mask_url(url: str | None) -> str:
    """Hide the password of a URL so it can be printed in logs and errors."""
    if not url:
        return ""
    return _SECRET_IN_URL.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)


class SpyglassError(Exception):
    """Base class of every error Spyglass raises on purpose."""


class ConfigError(SpyglassError):
    """A configuration value is unknown, malformed or contradicts another one."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config: {key}: {message}")
        self.key = key


class StoreError(SpyglassError):
    """A store (ClickHouse, Postgres, Redis, blob) failed."""

    def __init__(self, component: str, message: str, url: str | None = None) -> None:
        where = f" ({mask_url(url)})" if url else ""
        super().__init__(f"{component}{where}: {message}")
        self.component = component
        self.url = mask_url(url)


class RetryableError(StoreError):
    """Transient: the same call may succeed later."""


class PermanentError(StoreError):
    """The call can never succeed as given."""


class StartupError(SpyglassError):
    """A component could not start; the message is one line naming it and its URL."""

    def __init__(self, component: str, url: str | None, reason: str) -> None:
        where = f" at {mask_url(url)}" if url else ""
        super().__init__(f"{component}{where}: {reason}")
        self.component = component
