"""Saved cards and the auto-recharge rule (SPEC 6): a card saved through a Checkout
Session in setup mode, and "when the balance falls below X days, buy Y days". The charge
itself is the worker's (charging.py); days arrive only when Stripe confirms (events.py).
Nothing here moves days, and nothing commits."""

from __future__ import annotations

from typing import Any

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from ..config import Settings
from ..errors import Conflict, NotFound
from ..models import AutorechargeRule, Partner, PaymentMethod
from ..partners import service as partners
from ..payments import pricing, stripe_api
from ..payments.service import customer_id
from . import repository
from .schemas import RuleBody

SAVE_CARD = "save_card"  # metadata.purpose of the setup sessions this road creates


partner_for = partners.for_principal


def quote_of(partner: Partner, days: int) -> pricing.Quote:
    return pricing.volume_quote(days, partner.price_per_month, partner.currency, partner.discounts)


# --- saved cards ---------------------------------------------------------------------------

async def start_card_setup(session: AsyncSession, partner: Partner, settings: Settings) -> Any:
    """A Checkout Session in setup mode for the partner's Stripe customer (created on first
    use; ``partner`` is locked by the caller). The card is stored when Stripe reports the
    session completed, not here: a session may never be finished."""
    stripe_api.require_stripe(settings)
    customer = await customer_id(session, partner, settings)
    back = stripe_api.return_url(settings, "/dashboard/payment-methods")
    params: Any = {"mode": "setup", "customer": customer, "payment_method_types": ["card"],
                   "metadata": {"partner_id": partner.id, "purpose": SAVE_CARD},
                   "setup_intent_data": {"metadata": {"partner_id": partner.id, "purpose": SAVE_CARD}},
                   "success_url": back, "cancel_url": back}
    client = stripe_api.client(settings)
    return await stripe_api.call(client.v1.checkout.sessions.create, params=params)


async def cards(session: AsyncSession, partner: Partner) -> list[tuple[PaymentMethod, bool]]:
    """The saved cards, newest first, each with whether auto-recharge would charge it."""
    saved = await repository.cards(session, partner.id)
    rule = await repository.rule(session, partner.id)
    charged = card_to_charge(saved, rule)
    return [(pm, charged is not None and pm.id == charged.id) for pm in saved]


def card_to_charge(saved: list[PaymentMethod], rule: AutorechargeRule | None) -> PaymentMethod | None:
    """The card the rule names, else the newest saved card (``saved`` is newest first)."""
    if rule is not None and rule.payment_method_id:
        named = [pm for pm in saved if pm.id == rule.payment_method_id]
        if named:
            return named[0]
    return saved[0] if saved else None


async def remove_card(session: AsyncSession, partner: Partner, pm_id: str, settings: Settings) -> PaymentMethod:
    """Detach the card from the customer in Stripe and forget it; a rule naming it falls
    back to the newest card left."""
    stripe_api.require_stripe(settings)
    pm = await repository.card(session, partner.id, pm_id)
    if pm is None:
        raise NotFound("card not found", f"partner '{partner.name}' has no saved card '{pm_id}'")
    await _detach(stripe_api.client(settings), pm_id)
    rule = await repository.rule(session, partner.id, for_update=True)
    if rule is not None and rule.payment_method_id == pm_id:
        rule.payment_method_id = None
    await session.delete(pm)
    await session.flush()
    return pm


async def _detach(client: stripe.StripeClient, pm_id: str) -> None:
    """Detach the card from its customer in Stripe. A card Stripe no longer has, or one
    already detached (in Stripe's dashboard, or by this request's first attempt when the
    transaction is retried), only needs forgetting here."""
    try:
        await stripe_api.call(client.v1.payment_methods.detach, pm_id)
    except stripe_api.NotAtStripe:
        return
    except stripe_api.PaymentProviderError:
        pm = await stripe_api.call(client.v1.payment_methods.retrieve, pm_id)
        if pm.to_dict().get("customer") is not None:
            raise


async def save_card(session: AsyncSession, partner: Partner, setup_intent_id: str, settings: Settings,
                    now_ms: int) -> str:
    """Store the card a completed setup session saved: Stripe's SetupIntent names the
    PaymentMethod; its brand, last four digits and expiry are kept. Once per card."""
    client = stripe_api.client(settings)
    seti = (await stripe_api.call(client.v1.setup_intents.retrieve, setup_intent_id)).to_dict()
    if seti.get("status") != "succeeded":
        return f"ignored: setup intent {setup_intent_id} is {seti.get('status')}"
    if seti.get("customer") != partner.stripe_customer_id:
        return f"ignored: setup intent {setup_intent_id} is not for the partner's customer"
    pm_ref = seti.get("payment_method")  # an id, or the object when expanded
    pm_id = pm_ref.get("id") if isinstance(pm_ref, dict) else pm_ref
    if not isinstance(pm_id, str) or not pm_id:
        return f"ignored: setup intent {setup_intent_id} names no payment method"
    pm = (await stripe_api.call(client.v1.payment_methods.retrieve, pm_id)).to_dict()
    card = pm.get("card") or {}
    stored = await repository.store_card(
        session, id=pm_id, partner_id=partner.id, brand=str(card.get("brand") or "")[:32],
        last4=str(card.get("last4") or "")[:4], exp_month=card.get("exp_month"), exp_year=card.get("exp_year"),
        created_ms=now_ms)
    return f"card saved: {pm_id}" if stored else f"already saved: {pm_id}"


# --- the rule --------------------------------------------------------------------------------

async def show_rule(session: AsyncSession, partner: Partner) -> AutorechargeRule:
    rule = await repository.rule(session, partner.id)
    if rule is None:
        raise NotFound("no auto-recharge rule", f"partner '{partner.name}' has no auto-recharge rule")
    return rule


async def set_rule(session: AsyncSession, partner: Partner, body: RuleBody, settings: Settings,
                   now_ms: int) -> AutorechargeRule:
    """Create or replace the rule (``partner`` locked by the caller). Setting it arms it
    and clears the last failure: the partner has looked at it (a new card, say)."""
    stripe_api.require_stripe(settings)
    saved = await repository.cards(session, partner.id)
    if not saved:
        raise Conflict("no saved card", "save a card first: POST /partners/{name}/payment-methods".replace(
            "{name}", partner.name))
    if body.paymentMethodId is not None and all(pm.id != body.paymentMethodId for pm in saved):
        raise NotFound("card not found", f"partner '{partner.name}' has no saved card '{body.paymentMethodId}'")
    q = quote_of(partner, body.buyDays)
    if q.minor_total() == 0:
        raise Conflict("nothing to pay",
                       f"{body.buyDays} days at {pricing.text(q.unit_price, q.currency)} {q.currency} per 30 days "
                       "cost nothing; ask the operator to credit them")
    rule = await repository.rule(session, partner.id, for_update=True)
    if rule is None:
        rule = AutorechargeRule(partner_id=partner.id)
        session.add(rule)
    rule.below_days, rule.buy_days, rule.enabled = body.belowDays, body.buyDays, body.enabled
    rule.payment_method_id = body.paymentMethodId
    rule.armed, rule.last_failure, rule.updated_ms = True, None, now_ms
    await session.flush()
    return rule


async def remove_rule(session: AsyncSession, partner: Partner) -> AutorechargeRule:
    rule = await repository.rule(session, partner.id, for_update=True)
    if rule is None:
        raise NotFound("no auto-recharge rule", f"partner '{partner.name}' has no auto-recharge rule")
    await session.delete(rule)
    await session.flush()
    return rule
