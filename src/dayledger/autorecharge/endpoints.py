"""Saved cards and the auto-recharge rule: save a card through a Stripe Checkout Session
in setup mode, list and remove saved cards, and set "when the balance falls below X days,
buy Y days" (the operator may act for any partner)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..api import ERROR_RESPONSES, ApiRoute, error_responses, handle, services
from ..auth.service import Principal
from ..partners.params import PartnerName
from . import service
from .params import PaymentMethodID
from .schemas import CardSetupReply, PaymentMethodList, PaymentMethodReply, RuleBody, RuleReply

router = APIRouter(tags=["Payments"], responses=ERROR_RESPONSES, route_class=ApiRoute)


@router.post("/partners/{PartnerName}/payment-methods", status_code=201, response_model=CardSetupReply,
             responses=error_responses(404, 409, 502, 503),
             summary="Save a card: a Stripe Checkout Session in setup mode",
             description="Open `setupUrl` to enter the card. It is listed under `GET "
                         "/partners/{PartnerName}/payment-methods` once Stripe reports the setup completed; "
                         "the newest card is the one auto-recharge charges unless the rule names another.")
async def save_card(request: Request, name: PartnerName) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> CardSetupReply:
        partner = await service.partner_for(session, principal, name, for_update=True)
        checkout = await service.start_card_setup(session, partner, services(request).settings)
        return CardSetupReply(setupUrl=checkout.url, sessionId=checkout.id)
    return await handle(request, fn, permission="billing", status=201)


@router.get("/partners/{PartnerName}/payment-methods", response_model=PaymentMethodList,
            responses=error_responses(404), summary="The partner's saved cards, newest first",
            description="`default` marks the card auto-recharge charges. Works without Stripe configured.")
async def list_cards(request: Request, name: PartnerName) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> PaymentMethodList:
        partner = await service.partner_for(session, principal, name)
        return PaymentMethodList(paymentMethods=[PaymentMethodReply.of(pm, default=d)
                                                 for pm, d in await service.cards(session, partner)])
    return await handle(request, fn, permission="read")


@router.delete("/partners/{PartnerName}/payment-methods/{PaymentMethodID}", response_model=PaymentMethodReply,
               responses=error_responses(404, 409, 502, 503), summary="Remove a saved card",
               description="Detaches the card from the partner's Stripe customer and forgets it. A rule naming "
                           "it charges the newest card left.")
async def remove_card(request: Request, name: PartnerName, pm_id: PaymentMethodID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> PaymentMethodReply:
        partner = await service.partner_for(session, principal, name, for_update=True)
        pm = await service.remove_card(session, partner, pm_id, services(request).settings)
        return PaymentMethodReply.of(pm, default=False)
    return await handle(request, fn, permission="billing")


@router.put("/partners/{PartnerName}/autorecharge", response_model=RuleReply,
            responses=error_responses(404, 409, 503),
            summary="Set the auto-recharge rule: below `belowDays`, buy `buyDays` with the saved card",
            description="Creates or replaces the rule, arms it and clears `lastFailure`. The worker charges the "
                        "card off-session once per crossing: after a charge (or a decline) the rule stays "
                        "disarmed until the balance is back at or above `belowDays`. The days are credited when "
                        "Stripe confirms the payment. 409 without a saved card or when `buyDays` cost nothing; "
                        "404 when `paymentMethodId` is not one of the partner's saved cards.")
async def set_rule(request: Request, name: PartnerName, body: RuleBody) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> RuleReply:
        svc = services(request)
        partner = await service.partner_for(session, principal, name, for_update=True)
        rule = await service.set_rule(session, partner, body, svc.settings, svc.clock.now_ms())
        return RuleReply.of(rule, service.quote_of(partner, rule.buy_days))
    return await handle(request, fn, permission="billing")


@router.get("/partners/{PartnerName}/autorecharge", response_model=RuleReply, responses=error_responses(404),
            summary="The auto-recharge rule, what it buys now and how its last charge went")
async def get_rule(request: Request, name: PartnerName) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> RuleReply:
        partner = await service.partner_for(session, principal, name)
        rule = await service.show_rule(session, partner)
        return RuleReply.of(rule, service.quote_of(partner, rule.buy_days))
    return await handle(request, fn, permission="read")


@router.delete("/partners/{PartnerName}/autorecharge", response_model=RuleReply, responses=error_responses(404, 409),
               summary="Remove the auto-recharge rule",
               description="A charge already made still credits its days when Stripe confirms it.")
async def remove_rule(request: Request, name: PartnerName) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> RuleReply:
        partner = await service.partner_for(session, principal, name, for_update=True)
        rule = await service.remove_rule(session, partner)
        return RuleReply.of(rule, service.quote_of(partner, rule.buy_days))
    return await handle(request, fn, permission="billing")
