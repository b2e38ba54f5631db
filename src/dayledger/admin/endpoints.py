"""Operator API: partners, their prices and limits, credits and debits of days."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..auth import service as auth
from ..partners import repository, service
from ..partners.endpoints import IssuedToken, PartnerName, PartnerProfile
from ..partners.schemas import DaysChange, PartnerCreate, PartnerUpdate, TokenCreate
from ..api import ApiRoute, ERROR_RESPONSES, Paging, Reply, Success, error_responses, handle, idempotency_key, services

router = APIRouter(prefix="/admin", tags=["Operator"], responses=ERROR_RESPONSES, route_class=ApiRoute)


class CreatedPartner(PartnerProfile):
    projectId: str


class PartnerList(Reply):
    partners: list[PartnerProfile]
    count: int
    offset: int
    total: int


class DaysChanged(Success):
    transactionId: int
    days: int
    balance: int


@router.post("/partners", summary="Create a partner (with its default project)", status_code=201,
             response_model=CreatedPartner, responses=error_responses(409))
async def create_partner(request: Request, body: PartnerCreate):
    async def fn(session, principal):
        svc = services(request)
        partner, project_id = await service.create(session, body, svc.settings, svc.clock.now_ms())
        return {**await service.profile(session, partner, svc.clock.now_ms()), "projectId": project_id}
    return await handle(request, fn, permission="operator", status=201)


@router.get("/partners", summary="List partners with balances and channel counts", response_model=PartnerList)
async def list_partners(request: Request, paging: Paging):
    async def fn(session, principal):
        rows, total = await repository.page(session, paging.count, paging.offset)
        counts = await repository.channel_counts(session, [p.id for p in rows], services(request).clock.now_ms())
        return {"partners": [service.public(p, counts[p.id]) for p in rows],
                "count": len(rows), "offset": paging.offset, "total": total}
    return await handle(request, fn, permission="operator")


@router.get("/partners/{PartnerName}", summary="One partner", response_model=PartnerProfile,
            responses=error_responses(404))
async def get_partner(request: Request, name: PartnerName):
    async def fn(session, principal):
        return await service.profile(session, await service.get(session, name), services(request).clock.now_ms())
    return await handle(request, fn, permission="operator")


@router.patch("/partners/{PartnerName}", summary="Change a partner's price, trial eligibility, limits or status",
              response_model=PartnerProfile, responses=error_responses(404, 409))
async def update_partner(request: Request, name: PartnerName, body: PartnerUpdate):
    async def fn(session, principal):
        partner = await service.update(session, name, body)
        return await service.profile(session, partner, services(request).clock.now_ms())
    return await handle(request, fn, permission="operator")


@router.post("/partners/{PartnerName}/credit", summary="Credit days to a partner's balance (comment required)",
             response_model=DaysChanged, responses=error_responses(404, 409))
async def credit(request: Request, name: PartnerName, body: DaysChange):
    async def fn(session, principal):
        return await service.change_days(session, name, body, sign=1, actor=principal.actor,
                                         now_ms=services(request).clock.now_ms(),
                                         idempotency_key=idempotency_key(request))
    return await handle(request, fn, permission="operator")


@router.post("/partners/{PartnerName}/debit", summary="Debit days from a partner's balance (comment required)",
             response_model=DaysChanged, responses=error_responses(402, 404, 409))
async def debit(request: Request, name: PartnerName, body: DaysChange):
    async def fn(session, principal):
        return await service.change_days(session, name, body, sign=-1, actor=principal.actor,
                                         now_ms=services(request).clock.now_ms(),
                                         idempotency_key=idempotency_key(request))
    return await handle(request, fn, permission="operator")


@router.post("/partners/{PartnerName}/tokens", summary="Create an API token for a partner", status_code=201,
             response_model=IssuedToken, responses=error_responses(404, 409))
async def create_partner_token(request: Request, name: PartnerName, body: TokenCreate):
    async def fn(session, principal):
        partner = await service.get(session, name)
        now = services(request).clock.now_ms()
        expires = now + body.expiresInDays * 86_400_000 if body.expiresInDays else None
        issued = await auth.issue(session, kind="partner", scope=body.scope, now_ms=now,
                                  partner_id=partner.id, name=body.name, expires_ms=expires)
        return issued.public()
    return await handle(request, fn, permission="operator", status=201)
