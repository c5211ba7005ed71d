"""Amounts as they are stored: USD in ClickHouse Decimal64(12), written from a float.

Arithmetic is exact; only the final value becomes a float, because the observation row
carries floats to the JSONEachRow writer. Two exact representations are used:
- picoUSD integers (USD × 10^12, the Decimal64(12) grid itself) for prices with at most 12
  decimals — every built-in price. price × units and the sums are then plain int arithmetic,
  and `n / 10**12` is a correctly rounded division, so the float equals float(Decimal(...));
- Decimals for everything else (client-provided costs, exotic project prices), rounded
  half-even to 12 decimals.

Decimal64(12) holds |x| < 10^6. Its true maximum, 999999.999999999999, is not a double: it
rounds to 1e6 and would overflow the column. Like Langfuse's ClickhouseWriter, anything at or
beyond 10^6 is clamped to ±999999.999999, a double safely below the limit.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal

PICO_PER_USD = 10**12  # Decimal64(12) keeps 12 fractional digits
COST_SCALE = Decimal("1e-12")
COST_LIMIT = Decimal(1_000_000)
_PICO_LIMIT = 1_000_000 * PICO_PER_USD
MAX_STORED_COST = 999_999.999_999


def to_pico(amount: Decimal) -> int | None:
    """The amount in picoUSD when it has at most 12 decimals (so the conversion is exact)."""
    exponent = amount.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -12:
        return None
    return int(amount.scaleb(12))


def stored_pico(amount: int) -> float:
    """A picoUSD amount as the stored float, clamped into Decimal64(12)'s range."""
    if -_PICO_LIMIT < amount < _PICO_LIMIT:
        value = amount / PICO_PER_USD
        # A value a hair below 10^6 can round up to exactly 1e6 as a double.
        if -1_000_000.0 < value < 1_000_000.0:
            return value
    return MAX_STORED_COST if amount > 0 else -MAX_STORED_COST


def stored_cost(amount: Decimal) -> float:
    """Round to 12 decimals (half-even) and clamp into Decimal64(12)'s range."""
    if not amount.is_finite():
        # Upstream writes 0 for a non-finite cost rather than failing the batch.
        return 0.0
    if abs(amount) >= COST_LIMIT:
        return MAX_STORED_COST if amount > 0 else -MAX_STORED_COST
    value = float(amount.quantize(COST_SCALE, rounding=ROUND_HALF_EVEN))
    # Rounding to a double can land exactly on 1e6 for values a hair below it.
    if abs(value) >= 1_000_000.0:
        return math.copysign(MAX_STORED_COST, value)
    return value
