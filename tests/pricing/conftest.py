from __future__ import annotations

from typing import Any

import pytest

from .catalog_data import load_entries


@pytest.fixture(scope="session")
def catalog_entries() -> list[dict[str, Any]]:
    return load_entries()
