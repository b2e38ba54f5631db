"""Inbound Stripe events: verify the signature, store the event by its Stripe id, and
process it once, in the transaction that stores it (ARCHITECTURE rule 4).

Every payment road declares the event types it handles in its ``events.py``; an event
goes to each handler of its type until one claims it. A duplicate delivery finds its id
stored and changes nothing; an unknown type is stored, acknowledged and ignored."""

from __future__ import annotations

import json
import logging
from typing import Any

import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from ..autorecharge import events as autorecharge
from ..errors import BadRequest
from ..invoices import events as invoices
from ..subscriptions import events as subscriptions
from ..topups import events as topups
from . import clawback, repository
from .handlers import Handler
from .service import EventContext

log = logging.getLogger("dayledger.payments")

HANDLERS: dict[str, list[Handler]] = {}
for _module in (topups, autorecharge, invoices, subscriptions, clawback):
    for _type, _handler in _module.HANDLERS.items():
        HANDLERS.setdefault(_type, []).append(_handler)


def verified(payload: bytes, signature: str | None, secret: str, tolerance: int) -> dict[str, Any]:
    """The event if ``Stripe-Signature`` signs ``payload`` with ``secret`` within
    ``tolerance`` seconds; 400 otherwise (missing, forged, stale or not an event)."""
    if not signature:
        raise BadRequest("missing Stripe-Signature header", "Stripe signs every event; this request is not signed")
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature, secret, tolerance)
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise BadRequest("invalid Stripe signature", str(exc)) from exc
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise BadRequest("malformed event", "the signed body is not JSON") from exc
    if not (isinstance(event, dict) and isinstance(event.get("id"), str) and isinstance(event.get("type"), str)
            and isinstance(event.get("data"), dict) and isinstance(event["data"].get("object"), dict)):
        raise BadRequest("malformed event", "a Stripe event has an id, a type and data.object")
    return event


async def receive(session: AsyncSession, event: dict[str, Any], payload: bytes, ctx: EventContext) -> str:
    """Store and process ``event``; what was done. Runs in one transaction with its effects."""
    created = event.get("created")
    stored = await repository.store_event(
        session, id=event["id"], type=event["type"], created=created if isinstance(created, int) else 0,
        payload=payload.decode("utf-8"), received_ms=ctx.now_ms)
    if not stored:
        return "duplicate: already received"
    outcome = None
    for handler in HANDLERS.get(event["type"], []):
        outcome = await handler(session, event["data"]["object"], ctx)
        if outcome is not None:
            break
    outcome = outcome or "ignored"
    row = await repository.event(session, event["id"])
    assert row is not None
    row.processed_ms = ctx.now_ms
    row.outcome = outcome[:1000]
    log.info("stripe event %s %s: %s", event["id"], event["type"], outcome)
    return outcome
