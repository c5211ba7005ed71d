"""Turning client-supplied JSON scalars into counts and amounts, or rejecting them.

Clients send usage and cost through many SDKs and proxies; numbers arrive as ints, floats,
numeric strings, and occasionally garbage. Anything that is not a finite, non-negative number
is dropped rather than failing the whole observation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

# ClickHouse stores usage in UInt64; a larger count could not be written.
UINT64_MAX = 2**64 - 1


def count_sum(counts: Iterable[int]) -> int:
    """The sum of counts, saturating at the largest storable one instead of wrapping around."""
    return min(sum(counts), UINT64_MAX)


def to_count(value: object) -> int | None:
    """A non-negative integral count, or None when the value is not one.

    Integral floats (``12.0``) and numeric strings (``"12"``, ``"1e3"``) are accepted because
    JSON encoders and OTel attribute round-trips produce them; fractional values are rejected
    since usage columns hold whole units.
    """
    # bool is an int subclass; True is not a token count.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= UINT64_MAX else None
    if isinstance(value, float):
        return _integral_float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = int(text)
        except ValueError:
            try:
                return _integral_float(float(text))
            except ValueError:
                return None
        return parsed if 0 <= parsed <= UINT64_MAX else None
    return None


def _integral_float(value: float) -> int | None:
    if not math.isfinite(value) or value < 0 or not value.is_integer():
        return None
    count = int(value)
    return count if count <= UINT64_MAX else None


def to_amount(value: object) -> Decimal | None:
    """A non-negative finite amount (USD) as a Decimal, or None.

    Floats go through ``repr`` so ``0.1`` becomes ``Decimal("0.1")`` rather than the binary
    expansion of the double.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        amount = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        return None
    if not amount.is_finite() or amount < 0:
        return None
    return amount
