from __future__ import annotations

import pytest

from spyglass.collector.events import ValidatedBatch, parse_ingestion_body

from .wire import PY_V2_BATCH_METADATA, ingestion_body, py_v2_tracing_batch


@pytest.fixture
def v2_batch() -> ValidatedBatch:
    return parse_ingestion_body(ingestion_body(py_v2_tracing_batch(), PY_V2_BATCH_METADATA))
