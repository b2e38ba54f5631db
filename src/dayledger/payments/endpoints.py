"""POST /stripe/webhook: Stripe's events in, verified, stored once and processed; the
operator's view of every payment (flags included) and of the events received."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..api import ERROR_RESPONSES, ApiRoute, Paging, error_responses, handle, services
from ..api.responses import json_response
from ..auth.service import Principal
from ..partners import service as partners
from . import repository, webhook
from .schemas import PaymentInfo, PaymentPage, StripeEventInfo, StripeEventPage, WebhookReceived
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
    return json_response(WebhookReceived(received=True, outcome=outcome).dump())  # set: dump() leaves out unset fields


# The operator's routes are JSON API routes (token first, one error shape); the webhook
# above is not (Stripe sends no token), so they live on their own router, included below.
admin = APIRouter(prefix="/admin", tags=["Operator"], responses=ERROR_RESPONSES, route_class=ApiRoute)
PAYMENT_STATUSES = ("pending", "paid", "expired", "failed", "open", "void", "refunded", "disputed")
PartnerFilter = Annotated[str | None, Query(alias="partner", pattern=r"^[a-zA-Z0-9_-]+$", max_length=64,
                                            description="only this partner's payments")]
KindFilter = Annotated[str | None, Query(pattern="^(topup|invoice|subscription)$", description="only this kind")]
StatusFilter = Annotated[str | None, Query(pattern="^(" + "|".join(PAYMENT_STATUSES) + ")$",
                                           description="only payments in this status")]
Flagged = Annotated[bool | None, Query(description="true: only payments an event flagged; false: only unflagged")]
EventType = Annotated[str | None, Query(max_length=100, pattern=r"^[a-z0-9_.]+$",
                                        description="only events of this type, e.g. checkout.session.completed")]
OutcomePrefix = Annotated[str | None, Query(min_length=1, max_length=100, pattern=r"^[ -~]+$",
                                            description='only events whose outcome starts with this, e.g. "flagged"')]


@admin.get("/payments", response_model=PaymentPage, responses=error_responses(404),
           summary="Every payment (top-ups, invoices, subscription periods), newest first, with its flag")
async def list_payments(request: Request, paging: Paging, partner: PartnerFilter = None, kind: KindFilter = None,
                        status: StatusFilter = None, flagged: Flagged = None) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> PaymentPage:
        partner_id = (await partners.get(session, partner)).id if partner else None
        rows, total = await repository.payments_page(session, paging.count, paging.offset, partner_id=partner_id,
                                                     kind=kind, status=status, flagged=flagged)
        return PaymentPage(payments=[PaymentInfo.of(p, name) for p, name in rows], count=len(rows),
                           offset=paging.offset, total=total)
    return await handle(request, fn, permission="operator")


@admin.get("/stripe/events", response_model=StripeEventPage,
           summary="Stripe events as received, newest first, with what processing each did")
async def list_stripe_events(request: Request, paging: Paging, type: EventType = None,
                             outcome: OutcomePrefix = None) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> StripeEventPage:
        rows, total = await repository.events_page(session, paging.count, paging.offset, type=type, outcome=outcome)
        return StripeEventPage(events=[StripeEventInfo.of(e) for e in rows], count=len(rows), offset=paging.offset,
                               total=total)
    return await handle(request, fn, permission="operator")


router.include_router(admin)
