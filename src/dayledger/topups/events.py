"""Stripe events of self-service top-ups: the Checkout Session of a top-up completed,
paid later (asynchronous payment methods), failed or expired.

Days are credited only when Stripe says the money arrived -- ``checkout.session.completed``
with ``payment_status`` ``paid``, or ``checkout.session.async_payment_succeeded`` -- and
only if the amount and currency are the top-up's; ``payments.service.credit`` on the
locked row makes it once, whichever of them arrives and however often."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Payment
from ..payments import repository
from ..payments.handlers import Handler
from ..payments.service import EventContext, amount_mismatch, credit, flag

PREFIX = "top_"


async def _topup(session: AsyncSession, obj: dict[str, Any]) -> tuple[str | None, Payment | None]:
    """The top-up a Checkout Session pays, locked: (its id, the row). The id is None when
    the session is not a top-up's (another road's session, or not mode payment)."""
    if obj.get("mode") != "payment":
        return None, None
    metadata = obj.get("metadata")
    topup_id = (metadata.get("topup_id") if isinstance(metadata, dict) else None) or obj.get("client_reference_id")
    if not isinstance(topup_id, str) or not topup_id.startswith(PREFIX):
        return None, None
    return topup_id, await repository.payment_for_update(session, id=topup_id, kind="topup", source="checkout")


async def _paid(session: AsyncSession, payment: Payment, obj: dict[str, Any], ctx: EventContext) -> str:
    """Stripe says the session's money arrived: credit the top-up's days unless the amount
    or currency is not the top-up's (then flag it for the operator and credit nothing)."""
    why = amount_mismatch(payment, obj.get("amount_total"), obj.get("currency"))
    if why is not None:
        return flag(payment, why, ctx.now_ms)
    done = await credit(session, payment, actor=ctx.actor, now_ms=ctx.now_ms,
                        comment=f"top-up {payment.id}: {payment.days} days paid through Stripe Checkout")
    return f"credited {payment.days} days" if done else "already credited"


async def _remember(session: AsyncSession, payment: Payment, obj: dict[str, Any], ctx: EventContext) -> str | None:
    """Keep the session's PaymentIntent (refunds and disputes name it); a session that is
    not the one this top-up created, or an intent another payment already names, is
    flagged and changes nothing else."""
    if payment.stripe_checkout_session and obj.get("id") != payment.stripe_checkout_session:
        return flag(payment, f"checkout session {obj.get('id')!r} is not this top-up's "
                             f"({payment.stripe_checkout_session})", ctx.now_ms)
    intent = obj.get("payment_intent")
    if isinstance(intent, str) and intent and payment.stripe_payment_intent != intent:
        other = await repository.intent_held_by_another(session, intent, payment.id)
        if other is not None:
            return flag(payment, f"payment intent {intent!r} already pays {other}", ctx.now_ms)
        payment.stripe_payment_intent = intent
        payment.updated_ms = ctx.now_ms
    return None


async def completed(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    topup_id, payment = await _topup(session, obj)
    if topup_id is None:
        return None
    if payment is None:
        return f"ignored: no top-up {topup_id}"
    if (flagged := await _remember(session, payment, obj, ctx)) is not None:
        return flagged
    status = obj.get("payment_status")
    if status == "paid":
        return await _paid(session, payment, obj, ctx)
    if status == "unpaid":  # a bank debit or voucher: async_payment_succeeded or _failed follows
        return "awaiting asynchronous payment"
    return flag(payment, f"checkout completed with payment_status {status!r}", ctx.now_ms)


async def async_succeeded(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    topup_id, payment = await _topup(session, obj)
    if topup_id is None:
        return None
    if payment is None:
        return f"ignored: no top-up {topup_id}"
    if (flagged := await _remember(session, payment, obj, ctx)) is not None:
        return flagged
    return await _paid(session, payment, obj, ctx)


async def _ended(session: AsyncSession, obj: dict[str, Any], ctx: EventContext, status: str) -> str | None:
    """The session will never be paid: a pending top-up becomes ``status``; one already
    paid (an event out of order) stays as it is."""
    topup_id, payment = await _topup(session, obj)
    if topup_id is None:
        return None
    if payment is None:
        return f"ignored: no top-up {topup_id}"
    if payment.status != "pending":
        return f"ignored: top-up is {payment.status}"
    payment.status = status
    payment.updated_ms = ctx.now_ms
    return status


async def async_failed(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    return await _ended(session, obj, ctx, "failed")


async def expired(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    return await _ended(session, obj, ctx, "expired")


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": completed,
    "checkout.session.async_payment_succeeded": async_succeeded,
    "checkout.session.async_payment_failed": async_failed,
    "checkout.session.expired": expired,
}
