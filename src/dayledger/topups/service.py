"""Self-service top-ups (SPEC 6): the price of some days, a pending top-up paid through
a Stripe Checkout Session, and the partner's top-ups. Days are credited only when Stripe
says the money arrived (events.py); nothing here moves days, and nothing commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..config import Settings
from ..errors import Conflict, NotFound
from ..models import Partner, Payment
from ..partners import service as partners
from ..payments import pricing, stripe_api
from ..payments.service import customer_id, new_id
from . import repository


partner_for = partners.for_principal


def days_of(days: int | None, channels: int | None) -> int:
    """``channels`` buys 30 days per channel; the caller made sure exactly one is given."""
    return days if days is not None else (channels or 0) * pricing.DAYS_PER_UNIT


def quote_of(partner: Partner, days: int) -> pricing.Quote:
    return pricing.volume_quote(days, partner.price_per_month, partner.currency, partner.discounts)


async def create(session: AsyncSession, partner: Partner, days: int, channels: int | None, settings: Settings,
                 now_ms: int) -> Payment:
    """A pending top-up at the quoted price and the Checkout Session that pays it.

    ``partner`` is locked by the caller, so its Stripe customer is created once. The
    session is created before the row is written: if this transaction fails, nobody ever
    saw the session's URL, so nobody can pay a top-up that does not exist."""
    stripe_api.require_stripe(settings)
    q = quote_of(partner, days)
    if q.minor_total() == 0:
        raise Conflict("nothing to pay",
                       f"{days} days at {pricing.text(q.unit_price, q.currency)} {q.currency} per 30 days cost "
                       "nothing; ask the operator to credit them")
    topup_id = new_id("topup")
    checkout = await _checkout_session(session, partner, topup_id, q, settings)
    payment = Payment(
        id=topup_id, partner_id=partner.id, kind="topup", source="checkout", status="pending", days=days,
        channels=channels, unit_price=q.unit_price, subtotal=q.subtotal, discount_percent=q.discount_percent,
        discount=q.discount, total=q.total, currency=q.currency, payment_url=checkout.url,
        stripe_checkout_session=checkout.id, clawed_days=0, created_ms=now_ms, updated_ms=now_ms)
    session.add(payment)
    await session.flush()
    return payment


async def _checkout_session(session: AsyncSession, partner: Partner, topup_id: str, q: pricing.Quote,
                            settings: Settings) -> Any:
    customer = await customer_id(session, partner, settings)
    ids = {"topup_id": topup_id, "partner_id": partner.id}
    back = stripe_api.return_url(settings, f"/dashboard/topup?topup={topup_id}")
    params: Any = {
        "mode": "payment",
        "line_items": [{"price_data": {"currency": q.currency.lower(), "unit_amount": q.minor_total(),
                                       "product_data": {"name": f"{q.days} days"}},
                        "quantity": 1}],
        "customer": customer,
        "client_reference_id": topup_id,
        "metadata": ids,
        "payment_intent_data": {"metadata": ids},
        "success_url": back,
        "cancel_url": back,
    }
    client = stripe_api.client(settings)
    # The top-up id as Stripe's idempotency key: the library's own retries create one session.
    return await stripe_api.call(client.v1.checkout.sessions.create, params=params,
                                 options={"idempotency_key": topup_id})


async def show(session: AsyncSession, partner: Partner, topup_id: str) -> Payment:
    payment = await repository.one(session, partner.id, topup_id)
    if payment is None:
        raise NotFound("top-up not found", f"partner '{partner.name}' has no top-up '{topup_id}'")
    return payment


async def page(session: AsyncSession, partner: Partner, count: int, offset: int, *,
               status: str | None = None) -> tuple[list[Payment], int]:
    return await repository.page(session, partner.id, count, offset, status=status)
