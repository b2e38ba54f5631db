"""Charging the saved card off-session, once per crossing of the threshold.

Three steps, so no database transaction waits on Stripe:
1. ``claim`` (one transaction): lock each due rule (``SKIP LOCKED``: two workers never
   take the same one), disarm it and insert a pending top-up at the quoted price --
   committed before Stripe is asked, so a charge always finds the top-up it pays.
2. ``ask_stripe`` (no transaction): a PaymentIntent confirmed off-session, with the
   top-up's id as Stripe's idempotency key, so asking again never charges twice.
3. ``record`` (a second transaction): keep the PaymentIntent's id, or record the decline
   on the top-up and the rule. The days arrive with ``payment_intent.succeeded``.

A top-up left pending for ``LEASE_MS`` (a worker stopped between its steps, Stripe did
not answer, or the event never came) is claimed again: asked again under the same key,
or its PaymentIntent looked up and settled from what Stripe says. ``paid`` and ``fail``
are shared with the webhook handlers (events.py): the caller holds the top-up's row lock
and ``credit`` is once per payment, so a PaymentIntent reported twice settles once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..config import Settings
from ..ledger import Actor
from ..models import AutorechargeRule, Partner, Payment
from ..payments import pricing, stripe_api
from ..payments import repository as payments
from ..payments.service import amount_mismatch, credit, flag, new_id
from . import repository, service

PURPOSE = "autorecharge"  # metadata.purpose of the PaymentIntents this road creates
BATCH = 50
LEASE_MS = 10 * 60_000  # longer than the Stripe client's timeouts and retries together
# Stripe keeps an idempotency key 24 hours: past that, asking again could charge twice.
GIVE_UP_MS = 23 * 3_600_000
TRANSIENT = (stripe.APIConnectionError, stripe.RateLimitError)
# PaymentIntent states that will not become ``succeeded`` by themselves: off-session,
# nobody is there to authenticate or to give another card.
STUCK = ("requires_payment_method", "requires_action", "requires_confirmation", "canceled")


@dataclass(frozen=True)
class Charge:
    """What the worker asks Stripe for one claimed top-up (read in step 1: no row is held
    while Stripe answers)."""
    payment_id: str
    partner_id: str
    customer: str | None
    payment_method: str | None
    amount: int  # minor units
    currency: str
    intent: str | None  # a PaymentIntent already made: look it up instead of charging
    created_ms: int


@dataclass(frozen=True)
class Answer:
    """What Stripe said: a PaymentIntent, a failure, or nothing yet (``retry``: why)."""
    intent: dict[str, Any] | None = None
    failure: dict[str, Any] | None = None
    retry: str | None = None


def failure(code: str, message: str, now_ms: int) -> dict[str, Any]:
    return {"code": code, "message": message, "time": now_ms}


def intent_failure(intent: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """Why a PaymentIntent did not succeed: its ``last_payment_error``, else its state."""
    err = intent.get("last_payment_error")
    if isinstance(err, dict) and (err.get("code") or err.get("message")):
        return failure(str(err.get("code") or "payment_failed"), str(err.get("message") or "the payment failed"),
                       now_ms)
    status = intent.get("status")
    if status == "requires_action":
        return failure("authentication_required",
                       "the card asks for authentication, which an off-session charge cannot give", now_ms)
    return failure(f"payment_intent_{status}", f"the PaymentIntent is {status}", now_ms)


# --- 1. claim --------------------------------------------------------------------------------

async def claim(session: AsyncSession, now_ms: int, batch: int = BATCH) -> list[Charge]:
    """Due rules become pending top-ups; stale pending top-ups are leased again."""
    charges = []
    for rule, partner in await repository.claim_due_rules(session, batch):
        charge = await _start(session, rule, partner, now_ms)
        if charge is not None:
            charges.append(charge)
    for payment in await repository.claim_stale_payments(session, now_ms - LEASE_MS, batch):
        payment.updated_ms = now_ms  # the lease: other workers leave it alone for LEASE_MS
        charges.append(await _resume(session, payment))
    return charges


async def _start(session: AsyncSession, rule: AutorechargeRule, partner: Partner, now_ms: int) -> Charge | None:
    # Disarmed whatever happens next: one attempt per crossing, never a loop.
    rule.armed, rule.updated_ms = False, now_ms
    card = service.card_to_charge(await repository.cards(session, partner.id), rule)
    q = service.quote_of(partner, rule.buy_days)
    if card is None or not partner.stripe_customer_id:
        why = failure("no_card", "no saved card to charge; save one and set the rule again", now_ms)
    elif q.minor_total() == 0:
        why = failure("nothing_to_pay", f"{q.days} days cost nothing at the current price", now_ms)
    else:
        payment = Payment(
            id=new_id("topup"), partner_id=partner.id, kind="topup", source="autorecharge", status="pending",
            days=q.days, unit_price=q.unit_price, subtotal=q.subtotal, discount_percent=q.discount_percent,
            discount=q.discount, total=q.total, currency=q.currency, clawed_days=0, disputed_days=0,
            created_ms=now_ms, updated_ms=now_ms)
        session.add(payment)
        rule.last_payment_id = payment.id
        await session.flush()
        return Charge(payment.id, partner.id, partner.stripe_customer_id, card.id, q.minor_total(), q.currency,
                      None, now_ms)
    await _record_failure(session, rule, None, why, now_ms)
    return None


async def _resume(session: AsyncSession, payment: Payment) -> Charge:
    partner = await session.get(Partner, payment.partner_id)
    assert partner is not None
    card = None
    if payment.stripe_payment_intent is None:
        # Asked again with the card the rule charges now; if that is not the first
        # attempt's card, Stripe refuses the reused key and the top-up fails.
        rule = await repository.rule(session, partner.id)
        card = service.card_to_charge(await repository.cards(session, partner.id), rule)
    return Charge(payment.id, partner.id, partner.stripe_customer_id, card.id if card else None,
                  pricing.to_minor(payment.total, payment.currency), payment.currency, payment.stripe_payment_intent,
                  payment.created_ms)


# --- 2. ask Stripe -----------------------------------------------------------------------------

async def ask_stripe(settings: Settings, c: Charge, now_ms: int) -> Answer:
    """Charge the card off-session (or look up the PaymentIntent already made)."""
    client = stripe_api.client(settings)
    try:
        if c.intent is not None:
            return Answer(intent=(await stripe_api.call(client.v1.payment_intents.retrieve, c.intent)).to_dict())
        if now_ms - c.created_ms > GIVE_UP_MS:
            # Stripe may have forgotten the key: asking again could make a second charge.
            return Answer(failure=failure("not_charged", "Stripe's answer to the charge was never recorded", now_ms))
        if c.payment_method is None or c.customer is None:
            return Answer(failure=failure("no_card", "no saved card to charge", now_ms))
        params: Any = {
            "amount": c.amount, "currency": c.currency.lower(), "customer": c.customer,
            "payment_method": c.payment_method, "off_session": True, "confirm": True,
            "metadata": {"topup_id": c.payment_id, "partner_id": c.partner_id, "purpose": PURPOSE}}
        pi = await stripe_api.call(client.v1.payment_intents.create, params=params,
                                   options={"idempotency_key": c.payment_id})
        return Answer(intent=pi.to_dict())
    except stripe.CardError as exc:
        # A declined charge still leaves its PaymentIntent in Stripe (when the error names it).
        intent = getattr(exc.error, "payment_intent", None) if exc.error is not None else None
        intent_id = getattr(intent, "id", None)
        return Answer(intent={"id": intent_id} if isinstance(intent_id, str) else None,
                      failure=failure(exc.code or "card_declined", exc.user_message or str(exc), now_ms))
    except stripe_api.PaymentProviderError as exc:
        cause = exc.__cause__
        if isinstance(cause, TRANSIENT) or (getattr(cause, "http_status", None) or 500) >= 500:
            return Answer(retry=exc.details)  # the charge may or may not exist: ask again later, same key
        return Answer(failure=failure(getattr(cause, "code", None) or "stripe_refused", exc.details, now_ms))


# --- 3. record ---------------------------------------------------------------------------------

async def record(session: AsyncSession, c: Charge, answer: Answer, now_ms: int) -> str:
    """Keep what Stripe said on the (locked) top-up; an event that settled it first wins."""
    payment = await payments.payment_for_update(session, id=c.payment_id)
    if payment is None or payment.status != "pending":
        return "settled already"
    intent = answer.intent or {}
    if (flagged := _remember_intent(payment, intent.get("id"), now_ms)) is not None:
        return flagged
    if answer.failure is not None:
        return await fail(session, payment, answer.failure, now_ms)
    if answer.retry is not None:
        if now_ms - c.created_ms > GIVE_UP_MS:
            return await fail(session, payment, failure("not_charged", answer.retry, now_ms), now_ms)
        return "retry later"
    status = intent.get("status")
    if status in STUCK:
        return await fail(session, payment, intent_failure(intent, now_ms), now_ms)
    if status == "succeeded" and c.intent is not None:
        # Looked up because its event never came: Stripe's answer is the confirmation.
        return await paid(session, payment, intent, Actor("stripe", c.intent), now_ms)
    return f"charged: {intent.get('id')} {status}"  # payment_intent.succeeded credits the days


def _remember_intent(payment: Payment, intent_id: Any, now_ms: int) -> str | None:
    """Keep the PaymentIntent's id (refunds and disputes name it); another intent than the
    one this top-up has is flagged for the operator and changes nothing else."""
    if not isinstance(intent_id, str) or not intent_id:
        return None
    if payment.stripe_payment_intent and payment.stripe_payment_intent != intent_id:
        return flag(payment, f"payment intent {intent_id!r} is not this top-up's ({payment.stripe_payment_intent})",
                    now_ms)
    if payment.stripe_payment_intent != intent_id:
        payment.stripe_payment_intent, payment.updated_ms = intent_id, now_ms
    return None


async def paid(session: AsyncSession, payment: Payment, intent: dict[str, Any], actor: Actor, now_ms: int) -> str:
    """Stripe says the PaymentIntent of this (locked) top-up succeeded: credit its days
    once, unless the amount or currency is not the top-up's (then flag it)."""
    if (flagged := _remember_intent(payment, intent.get("id"), now_ms)) is not None:
        return flagged
    received = intent.get("amount_received") or intent.get("amount")
    why = amount_mismatch(payment, received, intent.get("currency"))
    if why is not None:
        return flag(payment, why, now_ms)
    done = await credit(session, payment, actor=actor, now_ms=now_ms,
                        comment=f"auto-recharge {payment.id}: {payment.days} days charged to the saved card")
    rule = await repository.rule(session, payment.partner_id, for_update=True)
    if rule is not None and done:
        # The charge went through: an older failure is no longer the rule's news.
        rule.last_payment_id, rule.last_failure, rule.updated_ms = payment.id, None, now_ms
    return f"credited {payment.days} days" if done else "already credited"


async def fail(session: AsyncSession, payment: Payment, why: dict[str, Any], now_ms: int) -> str:
    """The charge of this (locked, pending) top-up failed: nothing is credited, and the
    rule shows why until the partner sets it again or the balance recovers."""
    payment.status, payment.failure, payment.updated_ms = "failed", why, now_ms
    rule = await repository.rule(session, payment.partner_id, for_update=True)
    await _record_failure(session, rule, payment, why, now_ms)
    return f"failed: {why['code']}"


async def _record_failure(session: AsyncSession, rule: AutorechargeRule | None, payment: Payment | None,
                          why: dict[str, Any], now_ms: int) -> None:
    """``lastFailure`` on the rule, and an ``autorecharge.failed`` event for the partner."""
    if rule is not None:
        rule.last_failure, rule.updated_ms = why, now_ms
    partner_id = payment.partner_id if payment is not None else rule.partner_id if rule is not None else None
    if partner_id is None:
        return
    payload: dict[str, Any] = {"paymentId": payment.id if payment else None, "code": why["code"],
                               "message": why["message"]}
    if payment is not None:
        payload.update(days=payment.days, total=pricing.text(payment.total, payment.currency),
                       currency=payment.currency)
    await events.emit(session, partner_id=partner_id, type="autorecharge.failed", now_ms=now_ms, payload=payload)

