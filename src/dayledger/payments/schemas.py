"""Reply shapes shared by the payment roads."""

from __future__ import annotations

from ..models import Payment, StripeEvent
from ..replies import Reply
from .pricing import Quote, text


class WebhookReceived(Reply):
    received: bool = True
    outcome: str


class QuoteReply(Reply):
    days: int
    unitPrice: str
    subtotal: str
    discountPercent: str
    discount: str
    total: str
    currency: str

    @classmethod
    def of(cls, q: Quote) -> QuoteReply:
        return cls(days=q.days, unitPrice=text(q.unit_price, q.currency), subtotal=text(q.subtotal, q.currency),
                   discountPercent=f"{q.discount_percent.normalize():f}", discount=text(q.discount, q.currency),
                   total=text(q.total, q.currency), currency=q.currency)


class PaymentInfo(Reply):
    """A payment as the operator sees it, whatever its road."""
    id: str
    partner: str
    kind: str
    source: str
    status: str
    days: int
    clawedDays: int
    total: str
    currency: str
    flag: str | None
    createdTS: int
    paidTS: int | None
    stripeCheckoutSession: str | None
    stripePaymentIntent: str | None
    stripeInvoice: str | None
    stripeCharge: str | None

    @classmethod
    def of(cls, p: Payment, partner: str) -> PaymentInfo:
        return cls(id=p.id, partner=partner, kind=p.kind, source=p.source, status=p.status, days=p.days,
                   clawedDays=p.clawed_days, total=text(p.total, p.currency), currency=p.currency, flag=p.flag,
                   createdTS=p.created_ms, paidTS=p.paid_ms, stripeCheckoutSession=p.stripe_checkout_session,
                   stripePaymentIntent=p.stripe_payment_intent, stripeInvoice=p.stripe_invoice,
                   stripeCharge=p.stripe_charge)


class PaymentPage(Reply):
    payments: list[PaymentInfo]
    count: int
    offset: int
    total: int


class StripeEventInfo(Reply):
    """A Stripe event as received: what processing it did is its ``outcome``."""
    id: str
    type: str
    created: int  # Stripe's time of the event, seconds
    receivedTS: int
    processedTS: int | None
    outcome: str

    @classmethod
    def of(cls, e: StripeEvent) -> StripeEventInfo:
        return cls(id=e.id, type=e.type, created=e.created, receivedTS=e.received_ms, processedTS=e.processed_ms,
                   outcome=e.outcome)


class StripeEventPage(Reply):
    events: list[StripeEventInfo]
    count: int
    offset: int
    total: int
