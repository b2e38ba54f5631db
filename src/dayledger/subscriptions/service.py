"""Per-channel subscriptions (SPEC 6): one channel paid by its own Stripe subscription,
monthly (30 days) or yearly (365 days, less the partner's annual discount). Every paid
period extends that channel and sets it live without touching the balance (events.py);
cancelling lets the channel run out at the end of what was paid. Nothing here commits."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..channels import repository as channels
from ..channels.service import partner_row
from ..config import Settings
from ..errors import Conflict, NotFound
from ..ledger.channel_time import SANDBOX_MODES
from ..models import Partner, Subscription
from ..payments import pricing, stripe_api
from ..payments.service import customer_id, new_id
from . import repository

DAYS = {"month": 30, "year": 365}


def price(partner: Partner, interval: str) -> pricing.Quote:
    percent = Decimal(partner.annual_discount_percent or 0) if interval == "year" else Decimal(0)
    return pricing.quote(DAYS[interval], partner.price_per_month, partner.currency, percent=percent)


async def create(session: AsyncSession, partner_id: str, channel_id: str, interval: str, settings: Settings,
                 now_ms: int) -> Subscription:
    """A pending subscription for the channel and the Checkout Session that starts it.
    Locks: the channel, then the partner (the order every writer uses)."""
    ch = await channels.get(session, partner_id, channel_id, for_update=True)
    if ch.mode in SANDBOX_MODES:
        raise Conflict("sandbox channels are not paid for",
                       f"channel {ch.id} is a sandbox ({ch.mode}) and runs free; switch it to 'trial' first")
    current = await repository.newest(session, partner_id, channel_id, open_only=True)
    if current is not None:
        raise Conflict("channel already has a subscription",
                       f"subscription {current.id} is {current.status}; cancel it (DELETE) before starting another")
    stripe_api.require_stripe(settings)
    partner = await partner_row(session, partner_id, for_update=True)
    q = price(partner, interval)
    if q.minor_total() == 0:
        raise Conflict("nothing to pay", "the channel's price is zero; ask the operator to credit days instead")
    sub_id = new_id("channel_subscription")
    checkout = await _checkout_session(session, partner, ch.id, sub_id, interval, q, settings)
    sub = Subscription(id=sub_id, partner_id=partner_id, channel_id=ch.id, interval=interval, status="pending",
                       days_per_period=q.days, unit_price=q.unit_price, discount_percent=q.discount_percent,
                       total=q.total, currency=q.currency, payment_url=checkout.url,
                       stripe_checkout_session=checkout.id, created_ms=now_ms, updated_ms=now_ms)
    session.add(sub)
    await session.flush()
    return sub


async def _checkout_session(session: AsyncSession, partner: Partner, channel_id: str, sub_id: str, interval: str,
                            q: pricing.Quote, settings: Settings) -> Any:
    ids = {"subscription_id": sub_id, "channel_id": channel_id, "partner_id": partner.id}
    back = stripe_api.return_url(settings, f"/dashboard/channels/{channel_id}?subscription={sub_id}")
    params: Any = {
        "mode": "subscription",
        "customer": await customer_id(session, partner, settings),
        "line_items": [{"price_data": {"currency": q.currency.lower(), "unit_amount": q.minor_total(),
                                       "recurring": {"interval": interval},
                                       "product_data": {"name": f"Channel {channel_id} ({q.days} days)"}},
                        "quantity": 1}],
        "client_reference_id": sub_id,
        "metadata": ids,
        "subscription_data": {"metadata": ids},
        "success_url": back,
        "cancel_url": back,
    }
    client = stripe_api.client(settings)
    return await stripe_api.call(client.v1.checkout.sessions.create, params=params,
                                 options={"idempotency_key": sub_id})


async def show(session: AsyncSession, partner_id: str, channel_id: str) -> Subscription:
    await channels.get(session, partner_id, channel_id)  # 404 for an unknown or another partner's channel
    sub = await repository.newest(session, partner_id, channel_id)
    if sub is None:
        raise NotFound("no subscription", f"channel {channel_id} has never had a subscription")
    return sub


async def cancel(session: AsyncSession, partner_id: str, channel_id: str, settings: Settings,
                 now_ms: int) -> Subscription:
    """An active subscription ends at the end of its paid period (the channel keeps the days
    it has and then runs out); a pending one ends now and its Checkout page expires."""
    await channels.get(session, partner_id, channel_id)
    sub = await repository.newest(session, partner_id, channel_id, open_only=True, for_update=True)
    if sub is None:
        raise NotFound("no subscription to cancel", f"channel {channel_id} has no pending or active subscription")
    if sub.status == "canceling":
        raise Conflict("already canceling", f"subscription {sub.id} ends at the end of its paid period")
    client = stripe_api.client(settings)
    if sub.status == "pending" and sub.stripe_checkout_session:
        await _end_checkout(client, sub)
    if sub.stripe_subscription:
        await stripe_api.call(client.v1.subscriptions.update, sub.stripe_subscription,
                              params={"cancel_at_period_end": True})
        sub.status = "canceling"
    else:
        sub.status = "canceled"
    sub.updated_ms = now_ms
    await session.flush()
    return sub


async def _end_checkout(client: Any, sub: Subscription) -> None:
    """A pending subscription's Checkout page, asked what became of it (its event may be
    late or lost): still open, it is expired so nobody can pay it any more; paid, the
    Stripe subscription it started is remembered, to be canceled at period end; expired,
    nothing is left to do."""
    checkout = await stripe_api.call(client.v1.checkout.sessions.retrieve, sub.stripe_checkout_session)
    if checkout.status == "open":
        await stripe_api.call(client.v1.checkout.sessions.expire, sub.stripe_checkout_session)
        return
    started = checkout.to_dict().get("subscription")
    started = started.get("id") if isinstance(started, dict) else started
    if checkout.status == "complete" and isinstance(started, str) and started:
        sub.stripe_subscription = started
