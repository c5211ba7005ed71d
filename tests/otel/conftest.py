"""Fixtures for the OTLP tests; the builders live in otlp_builders.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.otel.otlp_builders import LangfuseCapture, OtelCapture


@pytest.fixture
def langfuse_capture() -> Iterator[Any]:
    made: list[LangfuseCapture] = []

    def factory(**options: Any) -> LangfuseCapture:
        capture = LangfuseCapture(**options)
        made.append(capture)
        return capture

    yield factory
    for capture in made:
        capture.close()


@pytest.fixture
def otel_capture() -> Iterator[Any]:
    made: list[OtelCapture] = []

    def factory(resource: dict[str, Any] | None = None) -> OtelCapture:
        capture = OtelCapture(resource)
        made.append(capture)
        return capture

    yield factory
    for capture in made:
        capture.provider.shutdown()
