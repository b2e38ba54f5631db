"""Money as text: amounts are Decimal everywhere and leave as decimal strings."""

from __future__ import annotations

from decimal import Decimal


def text(value: Decimal | None) -> str | None:
    """A decimal string with at least two places and no rounding (24.1234 stays 24.1234)."""
    if value is None:
        return None
    exact = value.normalize()
    exponent = exact.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > 2:
        return f"{exact:f}"
    return f"{value.quantize(Decimal('0.01'))}"
