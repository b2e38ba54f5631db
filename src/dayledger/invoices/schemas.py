"""Request and reply shapes of the invoice and billing-details routes, each defined once
(the CLI prints the same replies)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from ..models import Payment
from ..partners.schemas import MAX_DAYS, Email, Name
from ..payments.pricing import text
from ..replies import Reply
from ..text import Comment as CommentText, Plain

INVOICE_STATUSES = ("open", "paid", "void", "refunded", "disputed")
PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"  # YYYY-MM, months 01 to 12
MAX_CHANNELS = 100_000

Channels = Annotated[StrictInt, Field(ge=1, le=MAX_CHANNELS, description="channels billed, 30 days each")]
ExtraDays = Annotated[StrictInt, Field(ge=0, le=MAX_DAYS, description="days not tied to channels, 0 to 1,000,000")]
Period = Annotated[str, StringConstraints(pattern=PERIOD_PATTERN), Field(description="the month billed, YYYY-MM")]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Plain]
Company = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), Plain]
# An address keeps its line breaks; nothing else of the control characters.
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000), CommentText]
TaxId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), Plain]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InvoiceCreate(Strict):
    partner: Name
    channels: Channels
    extraDays: ExtraDays = 0


class InvoicePay(Strict):
    reference: Reference | None = Field(None, description="the operator's note of the payment, e.g. a bank "
                                                          "transfer's reference")


class GenerateRequest(Strict):
    period: Period


class BillingDetails(Strict):
    """Who is billed (or who bills): what an invoice document shows. Each field may be
    null; PUT replaces all four."""
    company: Company | None = None
    address: Address | None = None
    taxId: TaxId | None = None
    email: Email | None = None

    def stored(self) -> dict[str, Any]:
        return self.model_dump()


class BillingDetailsReply(Reply):
    company: str | None
    address: str | None
    taxId: str | None
    email: str | None

    @classmethod
    def of(cls, stored: dict[str, Any] | None) -> BillingDetailsReply:
        stored = stored or {}
        return cls(**{k: stored.get(k) for k in ("company", "address", "taxId", "email")})


class InvoiceReply(Reply):
    id: str
    partner: str
    channels: int
    extraDays: int
    days: int
    unitPrice: str  # per 30 days, what one channel costs
    subtotal: str
    discountPercent: str
    discount: str
    total: str
    currency: str
    status: str  # open | paid | void (| refunded | disputed, after a clawback)
    period: str | None  # YYYY-MM of a generated invoice, null for one the operator wrote
    reference: str | None
    hostedInvoiceUrl: str | None  # Stripe's page to pay it, when Stripe is configured
    documentUrl: str
    createdTS: int
    paidTS: int | None

    @classmethod
    def of(cls, p: Payment, partner: str, public_url: str) -> InvoiceReply:
        return cls(id=p.id, partner=partner, channels=p.channels or 0, extraDays=p.extra_days or 0, days=p.days,
                   unitPrice=text(p.unit_price, p.currency), subtotal=text(p.subtotal, p.currency),
                   discountPercent=f"{p.discount_percent.normalize():f}", discount=text(p.discount, p.currency),
                   total=text(p.total, p.currency), currency=p.currency, status=p.status, period=p.period,
                   reference=p.reference, hostedInvoiceUrl=p.payment_url,
                   documentUrl=document_url(public_url, partner, p.id), createdTS=p.created_ms, paidTS=p.paid_ms)


def document_url(public_url: str, partner: str, invoice_id: str) -> str:
    """The partner's address of the printable invoice (the operator's token opens it too)."""
    return f"{public_url.rstrip('/')}/partners/{partner}/invoices/{invoice_id}/document"


class InvoicePage(Reply):
    invoices: list[InvoiceReply]
    count: int
    offset: int
    total: int


class Skipped(Reply):
    partner: str
    reason: str


class GenerateReply(Reply):
    period: str
    created: list[InvoiceReply]
    skipped: list[Skipped]
