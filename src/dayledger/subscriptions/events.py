"""Stripe events of channel subscriptions: the Checkout Session that started one, each
paid period (``invoice.paid`` / ``invoice.payment_succeeded`` of a subscription invoice),
and the subscription's own changes.

Each paid Stripe invoice is one payment (``kind`` ``subscription``, keyed by the invoice id);
its credit is the ledger's ``paid_period`` on the channel, once, whichever of the two
invoice events arrives first. Events of one subscription are serialised by locking its row."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..channels import repository as channels
from ..errors import NotFound
from ..ledger import Op
from ..ledger.channel_time import SANDBOX_MODES, paid_period
from ..models import Payment, Subscription
from ..payments import pricing, repository as payments, stripe_api
from ..payments.handlers import Handler
from ..payments.service import EventContext, amount_mismatch, flag, new_id
from . import repository

PREFIX = "csub_"


def _ours(metadata: Any) -> str | None:
    sub_id = metadata.get("subscription_id") if isinstance(metadata, dict) else None
    return sub_id if isinstance(sub_id, str) and sub_id.startswith(PREFIX) else None


async def completed(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    """Checkout started the Stripe subscription: remember its id."""
    sub_id = _ours(obj.get("metadata")) if obj.get("mode") == "subscription" else None
    if sub_id is None:
        return None
    sub = await repository.by_id(session, sub_id)
    if sub is None:
        return f"ignored: no subscription {sub_id}"
    stripe_id = obj.get("subscription")
    if isinstance(stripe_id, str) and stripe_id:
        sub.stripe_subscription = stripe_id
    if sub.status == "pending":
        sub.status = "active"
    sub.updated_ms = ctx.now_ms
    return f"subscription {sub.id} {sub.status}"


async def expired(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    """The Checkout page was never paid: a pending subscription ends, freeing the channel
    for another; one already started (an event out of order) stays as it is."""
    sub_id = _ours(obj.get("metadata")) if obj.get("mode") == "subscription" else None
    if sub_id is None:
        return None
    sub = await repository.by_id(session, sub_id)
    if sub is None:
        return f"ignored: no subscription {sub_id}"
    if sub.status != "pending":
        return f"ignored: subscription is {sub.status}"
    sub.status = "expired"
    sub.updated_ms = ctx.now_ms
    return f"subscription {sub.id} expired"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _id(value: Any) -> str | None:
    """A Stripe reference that may come as an id or as an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _details(invoice: dict[str, Any]) -> dict[str, Any]:
    # Since API version 2025-03-31 an invoice names its subscription (and that
    # subscription's metadata) here; older versions at the top level.
    return _dict(_dict(invoice.get("parent")).get("subscription_details"))


def _stripe_subscription(invoice: dict[str, Any]) -> str | None:
    return _id(invoice.get("subscription")) or _id(_details(invoice).get("subscription"))


def _payment_ids(invoice: dict[str, Any]) -> tuple[str | None, str | None]:
    """(charge, PaymentIntent) that paid the invoice: on it in older API versions, under
    ``payments`` in newer ones. Refunds and disputes find the period by them."""
    charge, intent = _id(invoice.get("charge")), _id(invoice.get("payment_intent"))
    for item in _dict(invoice.get("payments")).get("data") or []:
        paid = _dict(_dict(item).get("payment"))
        charge = charge or _id(paid.get("charge"))
        intent = intent or _id(paid.get("payment_intent"))
    return charge, intent


async def _subscription_of(session: AsyncSession, stripe_id: str, invoice: dict[str, Any],
                           ctx: EventContext) -> Subscription | None:
    """Ours, locked: by the Stripe id, or -- when an invoice arrives before the Checkout
    completion -- by the subscription's metadata (on the invoice, else read from Stripe)."""
    sub = await repository.by_stripe_id(session, stripe_id)
    if sub is not None:
        return sub
    sub_id = _ours(_details(invoice).get("metadata"))
    if sub_id is None:
        client = stripe_api.client(ctx.settings)
        try:
            remote = await stripe_api.call(client.v1.subscriptions.retrieve, stripe_id)
        except stripe_api.NotAtStripe:
            return None  # not in this Stripe account: nobody's here (Stripe must not retry forever)
        sub_id = _ours(remote.to_dict().get("metadata"))
    if sub_id is None:
        return None
    sub = await repository.by_id(session, sub_id)
    if sub is not None and not sub.stripe_subscription:
        sub.stripe_subscription = stripe_id
    return sub


def _period_end_ms(invoice: dict[str, Any]) -> int | None:
    try:
        end = invoice["lines"]["data"][0]["period"]["end"]
    except (KeyError, IndexError, TypeError):
        return None
    return int(end) * 1000 if isinstance(end, int) else None


async def invoice_paid(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    stripe_id = _stripe_subscription(obj)
    invoice_id = _id(obj.get("id"))
    if stripe_id is None or invoice_id is None:
        return None  # not a subscription's invoice: the invoices road's
    sub = await _subscription_of(session, stripe_id, obj, ctx)
    if sub is None:
        return "ignored: not a channel subscription"
    payment = await payments.payment_for_update(session, stripe_invoice=invoice_id)
    if payment is None:
        payment = _period(sub, invoice_id, obj, ctx)
        session.add(payment)
        await session.flush()
    elif payment.paid_ms is not None:
        return "already credited"
    if sub.status == "pending":
        sub.status = "active"
    sub.current_period_end_ms = _period_end_ms(obj) or sub.current_period_end_ms
    sub.updated_ms = ctx.now_ms
    why = amount_mismatch(payment, obj.get("amount_paid"), obj.get("currency"))
    if why is not None:
        return flag(payment, why, ctx.now_ms)
    return await _extend(session, sub, payment, ctx)


def _period(sub: Subscription, invoice_id: str, obj: dict[str, Any], ctx: EventContext) -> Payment:
    charge, intent = _payment_ids(obj)
    # The subscription keeps its price per 30 days, percent and total; its subtotal and
    # discount follow from them (as quoted when it started, unless that price had more digits).
    q = pricing.quote(sub.days_per_period, sub.unit_price, sub.currency, percent=sub.discount_percent)
    subtotal, discount = (q.subtotal, q.discount) if q.total == sub.total else (sub.total, Decimal(0))
    return Payment(
        id=new_id("subscription"), partner_id=sub.partner_id, kind="subscription", source="stripe", status="pending",
        days=sub.days_per_period, channel_id=sub.channel_id, subscription_id=sub.id, unit_price=sub.unit_price,
        subtotal=subtotal, discount_percent=sub.discount_percent, discount=discount, total=sub.total,
        currency=sub.currency, stripe_invoice=invoice_id, stripe_charge=charge, stripe_payment_intent=intent,
        clawed_days=0, disputed_days=0, created_ms=ctx.now_ms, updated_ms=ctx.now_ms)


async def _extend(session: AsyncSession, sub: Subscription, payment: Payment, ctx: EventContext) -> str:
    """The paid period's days on the channel (locked first, then the partner inside the
    ledger), once. A channel deleted or turned sandbox since cannot take them: flagged."""
    try:
        ch = await channels.get(session, sub.partner_id, sub.channel_id, for_update=True)
    except NotFound:
        return flag(payment, f"channel {sub.channel_id} was deleted; the paid period was not applied", ctx.now_ms)
    if ch.mode in SANDBOX_MODES:
        return flag(payment, f"channel {ch.id} is a sandbox ({ch.mode}); the paid period was not applied",
                    ctx.now_ms)
    payment.status = "paid"
    payment.paid_ms = payment.updated_ms = ctx.now_ms
    await session.flush()
    await paid_period(session, ch, payment.days, f"subscription {sub.id}: {payment.days} days paid ({sub.interval})",
                      Op(ctx.now_ms, ctx.actor), payment_id=payment.id, amount=payment.total,
                      currency=payment.currency)
    await events.emit(session, partner_id=sub.partner_id, type="subscription.paid", channel_id=ch.id,
                      now_ms=ctx.now_ms, payload={"subscriptionId": sub.id, "paymentId": payment.id,
                                                  "days": payment.days, "activeTill": ch.active_till_ms})
    return f"channel {ch.id} extended by {payment.days} days"


async def updated(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    stripe_id = obj.get("id")
    sub = await repository.by_stripe_id(session, stripe_id) if isinstance(stripe_id, str) else None
    if sub is None:
        return None
    status = obj.get("status")
    if status in ("canceled", "incomplete_expired"):
        sub.status = "canceled"
    elif obj.get("cancel_at_period_end"):
        sub.status = "canceling"
    elif status in ("active", "trialing", "past_due") and sub.status in ("pending", "canceling"):
        sub.status = "active"
    sub.updated_ms = ctx.now_ms
    return f"subscription {sub.id} {sub.status}"


async def deleted(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    stripe_id = obj.get("id")
    sub = await repository.by_stripe_id(session, stripe_id) if isinstance(stripe_id, str) else None
    if sub is None:
        return None
    sub.status = "canceled"
    sub.updated_ms = ctx.now_ms
    return f"subscription {sub.id} canceled"


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": completed,
    "checkout.session.expired": expired,
    "invoice.paid": invoice_paid,
    "invoice.payment_succeeded": invoice_paid,
    "customer.subscription.updated": updated,
    "customer.subscription.deleted": deleted,
}
