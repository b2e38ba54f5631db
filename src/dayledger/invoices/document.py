"""The invoice as a printable HTML document: one self-contained page (inline styles with
a print stylesheet, no scripts, nothing fetched from elsewhere), rendered by Jinja2 with
autoescaping on, so whatever a partner typed as its company shows as text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ..clock import DAY_MS
from ..payments import pricing
from .service import Invoice
from .stripe_invoice import TERMS_DAYS

_env = Environment(loader=PackageLoader("dayledger.invoices", "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

# Sent with the document: it needs its own inline styles and nothing else.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; " \
                          "form-action 'none'; frame-ancestors 'none'"


@dataclass(frozen=True)
class Line:
    text: str
    quantity: str
    unit_price: str
    amount: str


def date(ms: int | None) -> str | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d") if ms is not None else None


def lines(invoice: Invoice) -> list[Line]:
    """The channel line and the extra-days line. The subtotal was rounded once for all the
    days; the channel line gets its share of it and the extra days the rest, so the lines
    always add up to the subtotal shown."""
    p = invoice.payment
    cur = p.currency
    channels, extra = p.channels or 0, p.extra_days or 0
    per_30 = f"{pricing.text(p.unit_price, cur)} {cur} per 30 days"
    channel_amount = p.subtotal if not extra else pricing.rounded(
        p.subtotal * Decimal(channels * pricing.DAYS_PER_UNIT) / Decimal(p.days), cur)
    out = [Line(f"Channels, {pricing.DAYS_PER_UNIT} days each",
                f"{channels:,} channels x {pricing.DAYS_PER_UNIT} days = {channels * pricing.DAYS_PER_UNIT:,} days",
                per_30, pricing.text(channel_amount, cur))]
    if extra:
        out.append(Line("Extra days", f"{extra:,} days", per_30, pricing.text(p.subtotal - channel_amount, cur)))
    return out


def render(invoice: Invoice, issuer: dict[str, Any], billed: dict[str, Any]) -> str:
    p = invoice.payment
    cur = p.currency
    return _env.get_template("invoice.html").render(
        number=p.id, status=p.status, period=p.period, reference=p.reference, currency=cur,
        issued=date(p.created_ms), due=date(p.created_ms + TERMS_DAYS * DAY_MS), paid=date(p.paid_ms),
        days=f"{p.days:,}", lines=lines(invoice), subtotal=pricing.text(p.subtotal, cur),
        has_discount=p.discount != 0, discount_percent=f"{p.discount_percent.normalize():f}",
        discount=pricing.text(p.discount, cur),
        total=pricing.text(p.total, cur), hosted_url=p.payment_url, issuer=_party(issuer),
        billed=_party(billed))


def _party(details: dict[str, Any]) -> dict[str, Any]:
    """Every field the template reads, None when unset; an address as its lines."""
    address = details.get("address")
    return {"name": details.get("name"), "company": details.get("company"), "taxId": details.get("taxId"),
            "email": details.get("email") or details.get("accountEmail"),
            "address": address.splitlines() if address else []}
