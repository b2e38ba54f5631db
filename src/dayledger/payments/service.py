"""What every payment road shares: ids, the one credit of a paid payment, the amount
check, and the partner's Stripe customer."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..config import Settings
from ..ledger import Actor
from ..ledger.payments import credit_payment
from ..models import Partner, Payment
from . import pricing, stripe_api

PREFIX = {"topup": "top_", "invoice": "inv_", "subscription": "sbp_", "channel_subscription": "csub_"}
_ALNUM = string.ascii_letters + string.digits


def new_id(kind: str) -> str:
    return PREFIX[kind] + "".join(secrets.choice(_ALNUM) for _ in range(20))


@dataclass(frozen=True)
class EventContext:
    """What a Stripe event handler knows besides the event's object."""
    event_id: str
    event_type: str
    now_ms: int
    settings: Settings

    @property
    def actor(self) -> Actor:
        return Actor("stripe", self.event_id)


def amount_mismatch(payment: Payment, amount_minor: int | None, currency: str | None) -> str | None:
    """Why an amount Stripe reports does not pay this payment, or None when it does."""
    expected = pricing.to_minor(payment.total, payment.currency)
    if currency is None or currency.upper() != payment.currency:
        return f"currency {currency!r} but the payment is in {payment.currency}"
    if amount_minor != expected:
        return (f"amount {amount_minor} but the payment needs {expected} "
                f"({pricing.text(payment.total, payment.currency)} {payment.currency})")
    return None


def flag(payment: Payment, why: str, now_ms: int) -> str:
    """Record for the operator that an event about this payment did not add up."""
    payment.flag = why
    payment.updated_ms = now_ms
    return f"flagged: {why}"


async def credit(session: AsyncSession, payment: Payment, *, actor: Actor, now_ms: int, comment: str) -> bool:
    """Mark a (locked) payment paid and credit its days, once: False when it already was.

    The caller holds the payment row ``FOR UPDATE``; the ledger's unique index on the
    payment's credit is the last guard."""
    if payment.paid_ms is not None:
        return False
    payment.status = "paid"
    payment.paid_ms = payment.updated_ms = now_ms
    await session.flush()
    posted = await credit_payment(session, partner_id=payment.partner_id, type=payment.kind, days=payment.days,
                                  payment_id=payment.id, comment=comment, actor=actor, now_ms=now_ms,
                                  amount=payment.total, currency=payment.currency)
    payload = {"paymentId": payment.id, "kind": payment.kind, "days": payment.days,
               "total": pricing.text(payment.total, payment.currency), "currency": payment.currency,
               "balance": posted.balance_after}
    await events.emit(session, partner_id=payment.partner_id, type=f"{payment.kind}.paid", now_ms=now_ms,
                      payload=payload)
    await events.emit(session, partner_id=payment.partner_id, type="balance.credited", now_ms=now_ms,
                      payload=payload)
    return True


async def customer_id(session: AsyncSession, partner: Partner, settings: Settings) -> str:
    """The partner's Stripe customer, created on first use (the partner row is locked by
    the caller, so two requests cannot create two)."""
    if partner.stripe_customer_id:
        return partner.stripe_customer_id
    client = stripe_api.client(settings)
    customer = await stripe_api.call(
        client.v1.customers.create,
        params={"email": partner.email, "name": partner.name, "metadata": {"partner_id": partner.id}},
        options={"idempotency_key": f"customer-{partner.id}"})
    partner.stripe_customer_id = customer.id
    await session.flush()
    return customer.id


def money(amount: Decimal, currency: str) -> str:
    return pricing.text(amount, currency)
