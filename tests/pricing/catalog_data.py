"""The bundled catalog file read with plain json, independently of the code under test."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

CATALOG_PATH = Path(__file__).resolve().parents[2] / "collector" / "pricing" / "default-model-prices.json"


def load_entries() -> list[dict[str, Any]]:
    return json.loads(CATALOG_PATH.read_text())


def entry_named(entries: list[dict[str, Any]], model_name: str) -> dict[str, Any]:
    return next(e for e in entries if e["modelName"] == model_name)


def default_prices(entry: dict[str, Any]) -> dict[str, Decimal]:
    tier = next(t for t in entry["pricingTiers"] if t["isDefault"])
    return {k: Decimal(str(v)) for k, v in tier["prices"].items()}


def tier_prices(entry: dict[str, Any], tier_name: str) -> dict[str, Decimal]:
    tier = next(t for t in entry["pricingTiers"] if t["name"] == tier_name)
    return {k: Decimal(str(v)) for k, v in tier["prices"].items()}


def usd(amount: Decimal) -> float:
    """Expected stored value: 12 decimals, as a float."""
    return float(amount.quantize(Decimal("1e-12")))
