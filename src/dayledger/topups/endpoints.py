"""Self-service top-ups: the price of some days, buying them through Stripe Checkout,
and the partner's top-ups (the operator may read and buy for any partner)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..api import ERROR_RESPONSES, ApiRoute, Paging, error_responses, handle, services
from ..auth.service import Principal
from ..errors import Unprocessable
from ..partners.params import PartnerName
from ..payments.schemas import QuoteReply
from . import service
from .params import QuoteChannels, QuoteDays, TopupID, TopupStatus
from .schemas import TopupCreate, TopupPage, TopupReply

router = APIRouter(tags=["Payments"], responses=ERROR_RESPONSES, route_class=ApiRoute)


@router.get("/partners/{PartnerName}/topups/quote", response_model=QuoteReply, responses=error_responses(404),
            summary="The price of some days (or channels x 30 days) before buying them",
            description="Exactly one of `days` (1 to 1,000,000) or `channels` (30 days each). The partner's "
                        "volume discount applies; amounts are rounded once to the currency's minor unit. "
                        "Works without Stripe configured.")
async def quote_topup(request: Request, name: PartnerName, days: QuoteDays = None,
                      channels: QuoteChannels = None) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> QuoteReply:
        partner = await service.partner_for(session, principal, name)
        if (days is None) == (channels is None):
            raise Unprocessable("invalid request", "send exactly one of days or channels")
        return QuoteReply.of(service.quote_of(partner, service.days_of(days, channels)))
    return await handle(request, fn, permission="read")


@router.post("/partners/{PartnerName}/topups", status_code=201, response_model=TopupReply,
             responses=error_responses(404, 409, 502, 503),
             summary="Buy days: a pending top-up at the quoted price and its Stripe Checkout page",
             description="Send exactly one of `days` or `channels` (30 days each). Open `paymentUrl` to pay; the "
                         "days are credited when Stripe confirms the payment (status `paid`). 409 when the "
                         "price is zero (ask the operator to credit the days instead).")
async def create_topup(request: Request, name: PartnerName, body: TopupCreate) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> TopupReply:
        svc = services(request)
        partner = await service.partner_for(session, principal, name, for_update=True)
        payment = await service.create(session, partner, service.days_of(body.days, body.channels), body.channels,
                                       svc.settings, svc.clock.now_ms())
        return TopupReply.of(payment)
    return await handle(request, fn, permission="billing", status=201)


@router.get("/partners/{PartnerName}/topups", response_model=TopupPage, responses=error_responses(404),
            summary="The partner's top-ups, newest first")
async def list_topups(request: Request, name: PartnerName, paging: Paging, status: TopupStatus = None) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> TopupPage:
        partner = await service.partner_for(session, principal, name)
        rows, total = await service.page(session, partner, paging.count, paging.offset, status=status)
        return TopupPage(topups=[TopupReply.of(p) for p in rows], count=len(rows), offset=paging.offset,
                         total=total)
    return await handle(request, fn, permission="read")


@router.get("/partners/{PartnerName}/topups/{TopupID}", response_model=TopupReply, responses=error_responses(404),
            summary="One top-up")
async def get_topup(request: Request, name: PartnerName, topup_id: TopupID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> TopupReply:
        partner = await service.partner_for(session, principal, name)
        return TopupReply.of(await service.show(session, partner, topup_id))
    return await handle(request, fn, permission="read")
