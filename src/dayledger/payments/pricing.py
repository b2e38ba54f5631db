"""The one price arithmetic: every quote, top-up, invoice and subscription is priced here.

``pricePerMonth`` is the price of one channel for 30 days. For ``days`` days:

    subtotal (exact)  = days x pricePerMonth / 30
    discountPercent   = the partner's volume tier for that many days (the highest
                        ``fromDays`` not above ``days``), or the annual discount of a
                        yearly subscription
    total             = subtotal x (100 - discountPercent) / 100, rounded once (half up)
                        to the currency's minor unit
    subtotal (shown)  = the exact subtotal rounded the same way; discount = subtotal - total

so the three shown amounts always add up and the total is rounded exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

DAYS_PER_UNIT = 30  # pricePerMonth buys one channel 30 days (SPEC 6)

# Stripe's zero-decimal and three-decimal currencies; every other currency has cents.
ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
                          "VUV", "XAF", "XOF", "XPF"})
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})


def exponent(currency: str) -> int:
    """Digits after the point of the currency's minor unit (JPY 0, USD 2, KWD 3)."""
    code = currency.upper()
    return 0 if code in ZERO_DECIMAL else 3 if code in THREE_DECIMAL else 2


def rounded(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-exponent(currency)), rounding=ROUND_HALF_UP)


def to_minor(amount: Decimal, currency: str) -> int:
    """The amount in the currency's smallest unit, as Stripe counts it (12.34 USD -> 1234)."""
    return int(rounded(amount, currency).scaleb(exponent(currency)))


def from_minor(units: int, currency: str) -> Decimal:
    return Decimal(units).scaleb(-exponent(currency))


def text(amount: Decimal, currency: str) -> str:
    """An amount as the decimal string of its currency ("12.30", "1500" for JPY)."""
    return f"{rounded(amount, currency):f}"


@dataclass(frozen=True)
class Tier:
    from_days: int
    percent: Decimal


def tiers_of(discounts: Iterable[Mapping[str, Any]] | None) -> list[Tier]:
    """The stored ``[{"fromDays": 900, "percent": "5"}]`` as tiers, lowest first."""
    return sorted((Tier(int(d["fromDays"]), Decimal(str(d["percent"]))) for d in discounts or ()),
                  key=lambda t: t.from_days)


def tier_percent(days: int, tiers: Iterable[Tier]) -> Decimal:
    percent = Decimal(0)
    for tier in sorted(tiers, key=lambda t: t.from_days):
        if days >= tier.from_days:
            percent = tier.percent
    return percent


@dataclass(frozen=True)
class Quote:
    days: int
    unit_price: Decimal  # per 30 days
    subtotal: Decimal
    discount_percent: Decimal
    discount: Decimal
    total: Decimal
    currency: str

    def minor_total(self) -> int:
        return to_minor(self.total, self.currency)


def quote(days: int, price_per_month: Decimal, currency: str, *, percent: Decimal = Decimal(0)) -> Quote:
    """Price ``days`` days at ``price_per_month`` per 30 days, less ``percent`` percent."""
    if days < 1:
        raise ValueError("a quote needs at least one day")
    if not Decimal(0) <= percent <= Decimal(100):
        raise ValueError("a discount is between 0 and 100 percent")
    exact = Decimal(days) * price_per_month / DAYS_PER_UNIT
    total = rounded(exact * (Decimal(100) - percent) / Decimal(100), currency)
    subtotal = rounded(exact, currency)
    return Quote(days=days, unit_price=rounded(price_per_month, currency), subtotal=subtotal,
                 discount_percent=percent, discount=subtotal - total, total=total, currency=currency.upper())


def volume_quote(days: int, price_per_month: Decimal, currency: str,
                 discounts: Iterable[Mapping[str, Any]] | None) -> Quote:
    """A top-up's or an invoice's price: the volume tier for that many days applies."""
    return quote(days, price_per_month, currency, percent=tier_percent(days, tiers_of(discounts)))
