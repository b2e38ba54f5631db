"""Stripe events this payment road handles (see payments/webhook.py): an invoice paid
through Stripe's hosted page credits its days once.

Stripe sends both ``invoice.paid`` and ``invoice.payment_succeeded`` for one payment, in
any order, perhaps more than once: each locks the invoice row, and whichever comes second
finds it paid. Invoices of subscriptions belong to the subscriptions road."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Payment
from ..payments.handlers import Handler
from ..payments.repository import payment_for_update
from ..payments.service import EventContext, amount_mismatch, credit, flag
from .service import describe


def _id(value: Any) -> str | None:
    """A Stripe reference that may come as an id or as an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def is_subscription_invoice(obj: dict[str, Any]) -> bool:
    # Older API versions name the subscription on the invoice, newer ones under parent.
    return bool(obj.get("subscription") or _dict(obj.get("parent")).get("subscription_details"))


async def _ours(session: AsyncSession, obj: dict[str, Any]) -> Payment | None:
    """The invoice this Stripe invoice pays, locked: by the id in its metadata, else by
    the Stripe invoice stored when it was issued."""
    invoice_id = _dict(obj.get("metadata")).get("invoice_id")
    if isinstance(invoice_id, str) and invoice_id:
        return await payment_for_update(session, id=invoice_id, kind="invoice")
    stripe_id = _id(obj.get("id"))
    return await payment_for_update(session, stripe_invoice=stripe_id, kind="invoice") if stripe_id else None


def _payment_ids(obj: dict[str, Any]) -> tuple[str | None, str | None]:
    """(charge, payment intent) of a paid invoice: on the invoice itself in older API
    versions, under ``payments`` in newer ones."""
    charge, intent = _id(obj.get("charge")), _id(obj.get("payment_intent"))
    for item in _dict(obj.get("payments")).get("data") or []:
        paid = _dict(_dict(item).get("payment"))
        charge = charge or _id(paid.get("charge"))
        intent = intent or _id(paid.get("payment_intent"))
    return charge, intent


async def invoice_paid(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    if is_subscription_invoice(obj):
        return None
    payment = await _ours(session, obj)
    if payment is None:
        return None
    if payment.paid_ms is not None:
        return f"already paid: invoice {payment.id}"
    amount = obj.get("amount_paid")
    why = amount_mismatch(payment, amount if isinstance(amount, int) else None, obj.get("currency"))
    if why:
        return flag(payment, why, ctx.now_ms)
    if payment.status == "void":
        # The money arrived all the same (the void did not reach Stripe first): the days
        # are the partner's, and the operator is told.
        flag(payment, f"paid through Stripe ({obj.get('id')}) after it was voided here", ctx.now_ms)
    charge, intent = _payment_ids(obj)
    payment.stripe_charge = payment.stripe_charge or charge
    payment.stripe_payment_intent = payment.stripe_payment_intent or intent
    await credit(session, payment, actor=ctx.actor, now_ms=ctx.now_ms,
                 comment=f"{describe(payment)}, paid through Stripe ({obj.get('id')})")
    return f"credited {payment.days} days: invoice {payment.id}"


HANDLERS: dict[str, Handler] = {"invoice.paid": invoice_paid, "invoice.payment_succeeded": invoice_paid}
