"""Auto-extend policies of a channel and of a project (the project's default for its
channels): parse, authorize, call one service function, shape the reply."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..api import ERROR_RESPONSES, ApiRoute, error_responses, handle, services
from ..auth.service import Principal
from ..channels.params import ChannelID, ProjectID
from . import service
from .schemas import PolicyBody, PolicyReply

router = APIRouter(tags=["Auto-extend"], responses=ERROR_RESPONSES, route_class=ApiRoute)

MEANING = ("When less than `belowDays` × 24 hours of paid or trial time are left on a running trial or live "
           "channel, the worker extends it by `extendDays` days from the balance (the ordinary extension: "
           "`channel.extended`, a ledger entry commented `auto-extend policy <id> cycle <n>`), at most once per "
           "cycle. Sandboxes, stopped, expired and deleted channels are never extended. `until` (UTC date): the "
           "last date it extends; `budgetDays`: the total it may spend (a budget that cannot pay a whole "
           "`extendDays` is spent). A short balance emits `autoextend.failed` once per shortfall and the policy "
           "tries again every round. Setting an existing policy keeps its id and `spentDays` and clears "
           "`lastFailure`.")


def _now(request: Request) -> int:
    return services(request).clock.now_ms()


@router.put("/channels/{ChannelID}/autoextend", response_model=PolicyReply, responses=error_responses(404, 409),
            summary="Set the channel's own auto-extend policy (it wins over its project's)", description=MEANING)
async def set_channel_policy(request: Request, ChannelID: ChannelID, body: PolicyBody) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> PolicyReply:
        now = _now(request)
        policy = await service.set_for_channel(session, principal.require_partner(), ChannelID, body, now)
        return PolicyReply.of(policy, now)
    return await handle(request, fn, permission="channels")


@router.get("/channels/{ChannelID}/autoextend", response_model=PolicyReply, responses=error_responses(404),
            summary="The auto-extend policy that applies to the channel: its own, else its project's")
async def get_channel_policy(request: Request, ChannelID: ChannelID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> PolicyReply:
        applied = await service.for_channel(session, principal.require_partner(), ChannelID)
        return PolicyReply.of(applied.policy, _now(request), cycles=applied.cycles)
    return await handle(request, fn, permission="read")


@router.delete("/channels/{ChannelID}/autoextend", response_model=PolicyReply, responses=error_responses(404, 409),
               summary="Remove the channel's own auto-extend policy (its project's, if any, applies again)")
async def remove_channel_policy(request: Request, ChannelID: ChannelID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> PolicyReply:
        policy = await service.remove_for_channel(session, principal.require_partner(), ChannelID)
        return PolicyReply.of(policy, _now(request))
    return await handle(request, fn, permission="channels")


@router.put("/projects/{ProjectID}/autoextend", response_model=PolicyReply, responses=error_responses(404, 409),
            summary="Set the project's auto-extend policy: the default of its channels", description=MEANING)
async def set_project_policy(request: Request, ProjectID: ProjectID, body: PolicyBody) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> PolicyReply:
        now = _now(request)
        policy = await service.set_for_project(session, principal.require_partner(), ProjectID, body, now)
        return PolicyReply.of(policy, now)
    return await handle(request, fn, permission="channels")


@router.get("/projects/{ProjectID}/autoextend", response_model=PolicyReply, responses=error_responses(404),
            summary="The project's auto-extend policy")
async def get_project_policy(request: Request, ProjectID: ProjectID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> PolicyReply:
        policy = await service.for_project(session, principal.require_partner(), ProjectID)
        return PolicyReply.of(policy, _now(request))
    return await handle(request, fn, permission="read")


@router.delete("/projects/{ProjectID}/autoextend", response_model=PolicyReply,
               responses=error_responses(404, 409),
               summary="Remove the project's auto-extend policy")
async def remove_project_policy(request: Request, ProjectID: ProjectID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> PolicyReply:
        policy = await service.remove_for_project(session, principal.require_partner(), ProjectID)
        return PolicyReply.of(policy, _now(request))
    return await handle(request, fn, permission="channels")
