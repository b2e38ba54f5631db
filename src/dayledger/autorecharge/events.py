"""Stripe events of saved cards and auto-recharge: a setup session completed (store the
card), and the off-session PaymentIntent of an auto-recharge top-up succeeded (credit its
days, once) or failed (record why).

A Checkout top-up's PaymentIntent carries ``metadata.topup_id`` too; it is the top-ups
road's (credited from its session, after its checks), so only top-ups whose source is
``autorecharge`` are handled here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Partner, Payment
from ..payments import repository
from ..payments.handlers import Handler
from ..payments.service import EventContext
from . import charging, service


async def setup_completed(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    metadata = obj.get("metadata")
    if obj.get("mode") != "setup" or not isinstance(metadata, dict) or metadata.get("purpose") != service.SAVE_CARD:
        return None
    partner_id = metadata.get("partner_id")
    partner = await session.get(Partner, partner_id) if isinstance(partner_id, str) else None
    if partner is None:
        return f"ignored: no partner {partner_id!r}"
    if partner.stripe_customer_id is None or obj.get("customer") != partner.stripe_customer_id:
        return "ignored: the session is not for the partner's Stripe customer"
    setup_intent = obj.get("setup_intent")
    if isinstance(setup_intent, dict):
        setup_intent = setup_intent.get("id")
    if not isinstance(setup_intent, str) or not setup_intent:
        return "ignored: the session has no setup intent"
    return await service.save_card(session, partner, setup_intent, ctx.settings, ctx.now_ms)


async def _topup(session: AsyncSession, obj: dict[str, Any]) -> tuple[str | None, Payment | None]:
    """The auto-recharge top-up a PaymentIntent pays, locked: (its id, the row). The id is
    None when the PaymentIntent is not an auto-recharge's."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        return None, None
    topup_id = metadata.get("topup_id")
    if not isinstance(topup_id, str) or not topup_id:
        return None, None
    payment = await repository.payment_for_update(session, id=topup_id, kind="topup", source="autorecharge")
    if payment is None and metadata.get("purpose") != charging.PURPOSE:
        return None, None  # a Checkout top-up's PaymentIntent, or nobody's we know
    return topup_id, payment


async def succeeded(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    topup_id, payment = await _topup(session, obj)
    if topup_id is None:
        return None
    if payment is None:
        return f"ignored: no auto-recharge top-up {topup_id}"
    return await charging.paid(session, payment, obj, ctx.actor, ctx.now_ms)


async def payment_failed(session: AsyncSession, obj: dict[str, Any], ctx: EventContext) -> str | None:
    topup_id, payment = await _topup(session, obj)
    if topup_id is None:
        return None
    if payment is None:
        return f"ignored: no auto-recharge top-up {topup_id}"
    if payment.status != "pending":  # settled already (the worker saw the decline), or paid
        return f"ignored: top-up is {payment.status}"
    if isinstance(obj.get("id"), str) and not payment.stripe_payment_intent:
        payment.stripe_payment_intent = obj["id"]
    return await charging.fail(session, payment, charging.intent_failure(obj, ctx.now_ms), ctx.now_ms)


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": setup_completed,
    "payment_intent.succeeded": succeeded,
    "payment_intent.payment_failed": payment_failed,
}
