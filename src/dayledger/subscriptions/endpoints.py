"""A channel's own subscription: start it (a Stripe Checkout page), read it, cancel it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..api import ERROR_RESPONSES, ApiRoute, error_responses, handle, services
from ..auth.service import Principal
from ..channels.params import ChannelID
from . import service
from .schemas import SubscriptionCreate, SubscriptionReply

router = APIRouter(tags=["Payments"], responses=ERROR_RESPONSES, route_class=ApiRoute)


@router.post("/channels/{ChannelID}/subscription", status_code=201, response_model=SubscriptionReply,
             responses=error_responses(404, 409, 502, 503),
             summary="Pay a channel by its own subscription (monthly 30 days, yearly 365 days)",
             description="Answers a pending subscription and its Stripe Checkout `paymentUrl`. Every paid period "
                         "extends the channel by 30 or 365 days and sets it `live`; the balance is not touched. "
                         "409 for a sandbox channel or when the channel already has a pending or active "
                         "subscription.")
async def start_subscription(request: Request, ChannelID: ChannelID, body: SubscriptionCreate) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> SubscriptionReply:
        svc = services(request)
        sub = await service.create(session, principal.require_partner(), ChannelID, body.interval, svc.settings,
                                   svc.clock.now_ms())
        return SubscriptionReply.of(sub)
    return await handle(request, fn, permission="billing", status=201)


@router.get("/channels/{ChannelID}/subscription", response_model=SubscriptionReply, responses=error_responses(404),
            summary="The channel's subscription (its newest)")
async def get_subscription(request: Request, ChannelID: ChannelID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> SubscriptionReply:
        return SubscriptionReply.of(await service.show(session, principal.require_partner(), ChannelID))
    return await handle(request, fn, permission="read")


@router.delete("/channels/{ChannelID}/subscription", response_model=SubscriptionReply,
               responses=error_responses(404, 409, 502, 503),
               summary="Cancel the channel's subscription at the end of its paid period",
               description="The channel keeps the days already paid and then runs out. A subscription not yet "
                           "paid is canceled at once.")
async def cancel_subscription(request: Request, ChannelID: ChannelID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> SubscriptionReply:
        svc = services(request)
        sub = await service.cancel(session, principal.require_partner(), ChannelID, svc.settings, svc.clock.now_ms())
        return SubscriptionReply.of(sub)
    return await handle(request, fn, permission="billing")
