"""Refunds and disputes: Stripe events that take back days a payment bought (the policy:
docs/payments.md#refunds-and-disputes-the-clawback-policy).

- ``charge.refunded``: a refund of part of the charge takes back the same part of the
  payment's days (rounded down; a full refund takes them all), less what was taken back
  already, so redeliveries and partial refunds arriving out of order take each day once.
- ``charge.dispute.created``: every day not yet taken back.
- ``charge.dispute.closed`` won: the days the dispute took are given back; lost: nothing more.

Days bought for the balance are taken from what the balance holds, the rest becomes debt
that the next credit pays first (the ledger's ``clawback``); days of a channel's paid
period are taken from that channel's time still ahead (``claw_back_time``), or from the
balance if the channel was deleted (its unused days went to the balance then)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..channels import repository as channels
from ..errors import NotFound
from ..ledger import Op
from ..ledger.channel_time import claw_back_time, restore_time
from ..ledger.payments import clawback, give_back
from ..models import Payment
from . import repository
from .handlers import Handler
from .service import EventContext


async def _payment_of_charge(session: AsyncSession, charge: dict[str, Any]) -> Payment | None:
    """The payment a charge paid, locked: by its PaymentIntent, its invoice, or itself."""
    for column, key in (("stripe_payment_intent", "payment_intent"), ("stripe_invoice", "invoice"),
                        ("stripe_charge", "id")):
        value = charge.get(key)
        if isinstance(value, str) and value:
            payment = await repository.payment_for_update(session, **{column: value})
            if payment is not None:
                return payment
    return None


async def _take(session: AsyncSession, payment: Payment, days: int, why: str, ctx: EventContext) -> tuple[str, int]:
    """Take ``days`` of ``payment`` back and record it on the payment: what happened, and
    how many days were removed (all of them from a balance, counting debt; from a channel,
    only its time still ahead -- time already used stays used)."""
    op = Op(ctx.now_ms, ctx.actor)
    comment = f"{why}: {days} days of payment {payment.id} taken back"
    ch = await _channel(session, payment)
    if ch is not None:
        taken = await claw_back_time(session, ch, days, comment, op, payment_id=payment.id)
        removed, where = taken, f"{taken} from the channel's time ahead"
    else:
        done = await clawback(session, partner_id=payment.partner_id, days=days, payment_id=payment.id,
                              comment=comment, actor=ctx.actor, now_ms=ctx.now_ms)
        removed, where = days, f"{done.taken} from the balance, {done.owed} owed"
    payment.clawed_days += days
    payment.updated_ms = ctx.now_ms
    return f"{why}: {days} days taken back ({where})", removed


async def _channel(session: AsyncSession, payment: Payment) -> Any:
    """The channel of a subscription period, locked, if it still exists."""
    if payment.kind != "subscription" or not payment.channel_id:
        return None
    try:
        return await channels.get(session, payment.partner_id, payment.channel_id, for_update=True)
    except NotFound:
        return None


async def refunded(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    payment = await _payment_of_charge(session, obj)
    if payment is None:
        return "ignored: no payment of this charge"
    if payment.paid_ms is None:
        return f"ignored: payment {payment.id} was never credited"
    amount, refunded_amount = obj.get("amount"), obj.get("amount_refunded")
    if not isinstance(amount, int) or not isinstance(refunded_amount, int) or amount <= 0:
        return "ignored: the charge names no amounts"
    share = payment.days if refunded_amount >= amount else payment.days * refunded_amount // amount
    days = min(share, payment.days) - (payment.clawed_days - payment.disputed_days)
    if days <= 0:
        return "nothing more to take back"
    outcome, _ = await _take(session, payment, min(days, payment.days - payment.clawed_days), "refund", ctx)
    payment.status = "refunded" if payment.status != "disputed" else payment.status
    await _notify(session, payment, "payment.refunded", ctx)
    return outcome


async def dispute_created(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    payment = await _payment_of_charge(session, {"id": obj.get("charge"), "payment_intent": obj.get("payment_intent")})
    if payment is None:
        return "ignored: no payment of this charge"
    if payment.paid_ms is None:
        return f"ignored: payment {payment.id} was never credited"
    days = payment.days - payment.clawed_days
    payment.status = "disputed"
    if days <= 0:
        payment.updated_ms = ctx.now_ms
        return "disputed: nothing left to take back"
    outcome, removed = await _take(session, payment, days, "dispute", ctx)
    payment.disputed_days += removed
    await _notify(session, payment, "payment.disputed", ctx)
    return outcome


async def dispute_closed(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    payment = await _payment_of_charge(session, {"id": obj.get("charge"), "payment_intent": obj.get("payment_intent")})
    if payment is None:
        return "ignored: no payment of this charge"
    if obj.get("status") != "won":
        return f"dispute {obj.get('status')}: the days stay taken back"
    days = payment.disputed_days
    if days <= 0:
        return "dispute won: nothing to give back"
    comment = f"dispute won: {days} days of payment {payment.id} given back"
    ch = await _channel(session, payment)
    if ch is not None:
        await restore_time(session, ch, days, comment, Op(ctx.now_ms, ctx.actor), payment_id=payment.id)
    else:
        await give_back(session, partner_id=payment.partner_id, days=days, payment_id=payment.id, comment=comment,
                        actor=ctx.actor, now_ms=ctx.now_ms)
    payment.clawed_days -= days
    payment.disputed_days = 0  # what the dispute removed is back; days it found already used stay taken
    payment.status = "refunded" if payment.clawed_days else "paid"
    payment.updated_ms = ctx.now_ms
    await _notify(session, payment, "payment.dispute_won", ctx)
    return comment


async def _notify(session: AsyncSession, payment: Payment, type: str, ctx: EventContext) -> None:
    await events.emit(session, partner_id=payment.partner_id, type=type, channel_id=payment.channel_id,
                      now_ms=ctx.now_ms, payload={"paymentId": payment.id, "kind": payment.kind,
                                                  "days": payment.days, "clawedDays": payment.clawed_days,
                                                  "status": payment.status})


HANDLERS: dict[str, Handler] = {
    "charge.refunded": refunded,
    "charge.dispute.created": dispute_created,
    "charge.dispute.closed": dispute_closed,
}
