"""POST /stripe/webhook: Stripe's events in, verified, stored once and processed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..api import error_responses, services
from ..api.responses import json_response
from . import webhook
from .schemas import WebhookReceived
from .service import EventContext
from .stripe_api import not_configured

router = APIRouter(tags=["Payments"])


@router.post("/stripe/webhook", summary="Stripe events (signed with the endpoint's secret)",
             response_model=WebhookReceived, responses=error_responses(400, 503),
             description="Verifies `Stripe-Signature` (missing, forged or older than "
                         "DAYLEDGER_STRIPE_WEBHOOK_TOLERANCE_SECONDS: 400, nothing stored), stores the event "
                         "by its Stripe id (a redelivery is acknowledged and changes nothing) and processes it "
                         "in the same transaction. Unknown event types are acknowledged and ignored.")
async def stripe_webhook(request: Request) -> Response:
    svc = services(request)
    secret = svc.settings.stripe_webhook_secret
    if not svc.settings.stripe_secret_key or not secret:
        raise not_configured("DAYLEDGER_STRIPE_SECRET_KEY and DAYLEDGER_STRIPE_WEBHOOK_SECRET")
    payload = await request.body()
    event = webhook.verified(payload, request.headers.get("stripe-signature"), secret,
                             svc.settings.stripe_webhook_tolerance_seconds)

    async def work(session: AsyncSession) -> str:
        ctx = EventContext(event_id=event["id"], event_type=event["type"], now_ms=svc.clock.now_ms(),
                           settings=svc.settings)
        return await webhook.receive(session, event, payload, ctx)
    outcome = await svc.db.run(work)
    return json_response(WebhookReceived(outcome=outcome).dump())
