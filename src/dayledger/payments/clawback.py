"""Refunds and disputes: Stripe events that take back days a payment bought (the policy:
docs/payments.md#refunds-and-disputes-the-clawback-policy).

- ``charge.refunded``: a refund of part of the charge takes back the same part of the
  payment's days (rounded down; a full refund takes them all), less what refunds took
  already, so redeliveries and partial refunds arriving out of order take each day once.
- ``charge.dispute.created``: every day not yet taken back (an inquiry too).
- ``charge.dispute.closed`` won (or an inquiry closed without a chargeback,
  ``warning_closed``): the days the dispute took are given back; lost: nothing more.

Days bought for the balance are taken from what the balance holds, the rest becomes debt
that the next credit pays first (the ledger's ``clawback``); days of a channel's paid
period are taken from that channel's time still ahead (``claw_back_time``), or from the
balance if the channel was deleted (its unused days went to the balance then)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..channels import repository as channels
from ..errors import NotFound
from ..ledger import Op, unused_paid_days
from ..ledger.channel_time import claw_back_time, restore_time
from ..ledger.payments import clawback, give_back
from ..models import Channel, Payment
from . import repository
from .handlers import Handler
from .service import EventContext

# Dispute outcomes after which the money stayed with us: the days go back.
GIVE_BACK = ("won", "warning_closed")


@dataclass(frozen=True)
class Taken:
    on_channel: bool  # from a channel's time, not from the balance
    from_balance: int = 0
    owed: int = 0  # recorded as debt
    from_channel: int = 0  # channel time removed (time already used stays used)

    def where(self) -> str:
        if self.on_channel:
            return f"{self.from_channel} from the channel's time ahead"
        return f"{self.from_balance} from the balance, {self.owed} owed"

    def payload(self) -> dict[str, int]:
        return {"daysTaken": self.from_balance, "daysOwed": self.owed, "channelDaysTaken": self.from_channel}


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


async def _channel(session: AsyncSession, payment: Payment) -> Channel | None:
    """The channel of a subscription period, locked (after the payment row), if it still exists."""
    if payment.kind != "subscription" or not payment.channel_id:
        return None
    try:
        return await channels.get(session, payment.partner_id, payment.channel_id, for_update=True)
    except NotFound:
        return None


async def _take(session: AsyncSession, payment: Payment, ch: Channel | None, days: int, why: str,
                ctx: EventContext) -> Taken:
    """Take ``days`` of ``payment`` back -- from its channel's time ahead, or from the
    balance with the shortfall as debt -- and count them on the payment."""
    comment = f"{why}: {days} days of payment {payment.id} taken back"
    if ch is not None:
        removed = await claw_back_time(session, ch, days, comment, Op(ctx.now_ms, ctx.actor), payment_id=payment.id)
        taken = Taken(True, from_channel=removed)
    else:
        done = await clawback(session, partner_id=payment.partner_id, days=days, payment_id=payment.id,
                              comment=comment, actor=ctx.actor, now_ms=ctx.now_ms)
        taken = Taken(False, from_balance=done.taken, owed=done.owed)
    payment.clawed_days += days
    payment.updated_ms = ctx.now_ms
    return taken


async def refunded(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    payment = await _payment_of_charge(session, obj)
    if payment is None:
        return "ignored: no payment of this charge"
    if payment.paid_ms is None:
        return f"ignored: payment {payment.id} was never credited"
    amount, refunded_amount = obj.get("amount"), obj.get("amount_refunded")
    if not isinstance(amount, int) or not isinstance(refunded_amount, int) or amount <= 0:
        return "ignored: the charge names no amounts"
    # amount_refunded is the charge's running total: the share it stands for, less what
    # refunds took already, and never more than is left after a dispute.
    share = payment.days if refunded_amount >= amount else payment.days * refunded_amount // amount
    by_refunds = payment.clawed_days - payment.disputed_days
    days = min(share - by_refunds, payment.days - payment.clawed_days)
    if days <= 0:
        return "nothing more to take back"
    taken = await _take(session, payment, await _channel(session, payment), days, "refund", ctx)
    if payment.status != "disputed":
        payment.status = "refunded"
    await _notify(session, payment, "payment.refunded", ctx, taken.payload())
    return f"refund: {days} days taken back ({taken.where()})"


async def dispute_created(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    payment = await _payment_of_charge(session, {"id": obj.get("charge"), "payment_intent": obj.get("payment_intent")})
    if payment is None:
        return "ignored: no payment of this charge"
    if payment.paid_ms is None:
        return f"ignored: payment {payment.id} was never credited"
    if payment.status == "disputed":
        return "already disputed"
    ch = await _channel(session, payment)
    days = payment.days - payment.clawed_days
    if ch is not None:
        # Time already used stays used: the dispute takes only the time still ahead, so
        # a won dispute gives back exactly what it took and leaves nothing counted.
        days = min(days, unused_paid_days(ch, ctx.now_ms))
    payment.status = "disputed"
    payment.updated_ms = ctx.now_ms
    if days <= 0:
        await _notify(session, payment, "payment.disputed", ctx, Taken(ch is not None).payload())
        return "disputed: nothing left to take back"
    taken = await _take(session, payment, ch, days, "dispute", ctx)
    payment.disputed_days += days
    await _notify(session, payment, "payment.disputed", ctx, taken.payload())
    return f"dispute: {days} days taken back ({taken.where()})"


async def dispute_closed(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    payment = await _payment_of_charge(session, {"id": obj.get("charge"), "payment_intent": obj.get("payment_intent")})
    if payment is None:
        return "ignored: no payment of this charge"
    status = obj.get("status")
    if status not in GIVE_BACK:
        return f"dispute {status}: the days stay taken back"
    days = payment.disputed_days
    if days <= 0:
        return f"dispute {status}: nothing to give back"
    comment = f"dispute {status}: {days} days of payment {payment.id} given back"
    ch = await _channel(session, payment)
    if ch is not None:
        await restore_time(session, ch, days, comment, Op(ctx.now_ms, ctx.actor), payment_id=payment.id)
    else:
        await give_back(session, partner_id=payment.partner_id, days=days, payment_id=payment.id, comment=comment,
                        actor=ctx.actor, now_ms=ctx.now_ms)
    payment.clawed_days -= days
    payment.disputed_days = 0
    payment.status = "refunded" if payment.clawed_days else "paid"
    payment.updated_ms = ctx.now_ms
    await _notify(session, payment, "payment.dispute_won", ctx, {"daysGivenBack": days, "dispute": status})
    return comment


async def _notify(session: AsyncSession, payment: Payment, type: str, ctx: EventContext,
                  extra: dict[str, Any]) -> None:
    await events.emit(session, partner_id=payment.partner_id, type=type, channel_id=payment.channel_id,
                      now_ms=ctx.now_ms, payload={"paymentId": payment.id, "kind": payment.kind,
                                                  "days": payment.days, "clawedDays": payment.clawed_days,
                                                  "status": payment.status, **extra})


HANDLERS: dict[str, Handler] = {
    "charge.refunded": refunded,
    "charge.dispute.created": dispute_created,
    "charge.dispute.closed": dispute_closed,
}
