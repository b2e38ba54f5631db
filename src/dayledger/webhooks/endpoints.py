"""Webhook endpoints and their delivery log: a partner's under ``/partners/{name}/webhooks``
(its own events), the operator's under ``/admin/webhooks`` (every partner's events). Both
sets of routes are the same handlers; only the owner differs."""


from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..api import ERROR_RESPONSES, ApiRoute, Paging, error_responses, handle, services
from ..auth.service import Principal
from ..models import Partner
from ..partners import service as partners
from ..partners.params import PartnerName
from . import repository, service
from .params import DeliveryID, DeliveryStatus, EndpointID
from .schemas import (DeliveryPage, DeliveryReply, EndpointCreate, EndpointCreated, EndpointList, EndpointReply,
                      EndpointUpdate, TestSent)

router = APIRouter(tags=["Webhooks"], responses=ERROR_RESPONSES, route_class=ApiRoute)


def _partner(name: PartnerName) -> str | None:
    return name


def _operator() -> str | None:
    return None


async def _owner(session: AsyncSession, principal: Principal, name: str | None) -> Partner | None:
    """The endpoints' owner: the partner named in the path (the caller's own, or any for the
    operator), or None for the operator's routes (``handle`` checked the operator)."""
    return None if name is None else await partners.for_principal(session, principal, name)


def _reply(ep: Any, owner: Partner | None) -> EndpointReply:
    return EndpointReply.of(ep, owner.name if owner else None)


def _created(ep: Any, owner: Partner | None) -> EndpointCreated:
    return EndpointCreated(**_reply(ep, owner).model_dump(), secret=ep.secret)


# No ``from __future__ import annotations`` here: the handlers below name ``Owner``, a local of
# ``_install``, which FastAPI can only see in annotations evaluated when the handler is defined.
def _install(prefix: str, owner: Callable[..., str | None], reads: str, writes: str, whose: str) -> None:
    Owner = Annotated[str | None, Depends(owner)]
    one = f"{prefix}/{{EndpointID}}"

    @router.post(prefix, status_code=201, response_model=EndpointCreated, responses=error_responses(404, 409),
                 summary=f"Add a webhook endpoint for {whose} events; the signing secret is shown only here",
                 description="`events`: event types (docs/events.md) or `[\"*\"]`. Deliveries are JSON POSTs "
                             "signed with the Standard Webhooks scheme (`webhook-id`, `webhook-timestamp`, "
                             "`webhook-signature`) with `secret`. 422 for a URL that is not http(s) or whose "
                             "host resolves to a private, loopback or link-local address.")
    async def create(request: Request, name: Owner, body: EndpointCreate) -> Response:
        async def fn(session: AsyncSession, principal: Principal) -> EndpointCreated:
            svc, partner = services(request), await _owner(session, principal, name)
            ep = await service.create(session, partner, body, svc.settings, svc.clock.now_ms())
            return _created(ep, partner)
        return await handle(request, fn, permission=writes, status=201)

    @router.get(prefix, response_model=EndpointList, responses=error_responses(404),
                summary=f"The webhook endpoints for {whose} events (never their secrets)")
    async def list_(request: Request, name: Owner) -> Response:
        async def fn(session: AsyncSession, principal: Principal) -> EndpointList:
            partner = await _owner(session, principal, name)
            found = await repository.endpoints(session, partner.id if partner else None)
            return EndpointList(endpoints=[_reply(ep, partner) for ep in found])
        return await handle(request, fn, permission=reads)

    @router.get(one, response_model=EndpointReply, responses=error_responses(404), summary="One webhook endpoint")
    async def get(request: Request, name: Owner, endpoint_id: EndpointID) -> Response:
        async def fn(session: AsyncSession, principal: Principal) -> EndpointReply:
            partner = await _owner(session, principal, name)
            return _reply(await service.get(session, partner, endpoint_id), partner)
        return await handle(request, fn, permission=reads)

    @router.patch(one, response_model=EndpointReply, responses=error_responses(404, 409),
                  summary="Change a webhook endpoint's URL, events, description, or enable or disable it",
                  description="Disabling keeps undelivered events waiting (`disabled`); enabling sends them, in "
                              "order. An endpoint of the settings' `webhooks` list changes only there (409).")
    async def patch(request: Request, name: Owner, endpoint_id: EndpointID, body: EndpointUpdate) -> Response:
        async def fn(session: AsyncSession, principal: Principal) -> EndpointReply:
            svc, partner = services(request), await _owner(session, principal, name)
            ep = await service.get(session, partner, endpoint_id, for_update=True)
            return _reply(await service.update(session, ep, body, svc.settings, svc.clock.now_ms()), partner)
        return await handle(request, fn, permission=writes)

    @router.delete(one, response_model=EndpointReply, responses=error_responses(404, 409),
                   summary="Remove a webhook endpoint with its delivery log")
    async def delete(request: Request, name: Owner, endpoint_id: EndpointID) -> Response:
        async def fn(session: AsyncSession, principal: Principal) -> EndpointReply:
            partner = await _owner(session, principal, name)
            ep = await service.get(session, partner, endpoint_id, for_update=True)
            reply = _reply(ep, partner)
            await service.delete(session, ep)
            return reply
        return await handle(request, fn, permission=writes)

    @router.post(f"{one}/secret", response_model=EndpointCreated, responses=error_responses(404, 409),
                 summary="Replace the endpoint's signing secret; the new one is shown only here",
                 description="Deliveries sent after this answer are signed with the new secret.")
    async def rotate(request: Request, name: Owner, endpoint_id: EndpointID) -> Response:
        async def fn(session: AsyncSession, principal: Principal) -> EndpointCreated:
            partner = await _owner(session, principal, name)
            ep = await service.get(session, partner, endpoint_id, for_update=True)
            await service.rotate_secret(session, ep, services(request).clock.now_ms())
            return _created(ep, partner)
        return await handle(request, fn, permission=writes)

    @router.post(f"{one}/test", status_code=202, response_model=TestSent, responses=error_responses(404, 409),
                 summary="Send a `webhook.test` event to this endpoint (only)",
                 description="The worker sends it within its interval; the outcome is in the delivery log.")
    async def test(request: Request, name: Owner, endpoint_id: EndpointID) -> Response:
        async def fn(session: AsyncSession, principal: Principal) -> TestSent:
            partner = await _owner(session, principal, name)
            ep = await service.get(session, partner, endpoint_id)
            delivery_id, event_id = await service.queue_test(session, ep, services(request).clock.now_ms())
            return TestSent(deliveryId=delivery_id, eventId=event_id)
        return await handle(request, fn, permission=writes, status=202)

    @router.get(f"{one}/deliveries", response_model=DeliveryPage, responses=error_responses(404),
                summary="The endpoint's deliveries, newest first, each with every attempt",
                description="An attempt has the answer's status (null: no answer, `error` says why), the "
                            "latency and the answer's first 2,000 characters.")
    async def deliveries(request: Request, name: Owner, endpoint_id: EndpointID, paging: Paging,
                         status: DeliveryStatus = None) -> Response:
        async def fn(session: AsyncSession, principal: Principal) -> DeliveryPage:
            partner = await _owner(session, principal, name)
            ep = await service.get(session, partner, endpoint_id)
            rows, total = await repository.delivery_page(session, ep.id, paging.count, paging.offset, status)
            return DeliveryPage(deliveries=[DeliveryReply.of(d, t, a) for d, t, a in rows], count=len(rows),
                                offset=paging.offset, total=total)
        return await handle(request, fn, permission=reads)

    @router.post(f"{one}/deliveries/{{DeliveryID}}/resend", response_model=DeliveryReply,
                 responses=error_responses(404, 409), summary="Send a delivery again, now, with the same webhook-id",
                 description="It goes before the endpoint's later deliveries, with a new retry period.")
    async def resend(request: Request, name: Owner, endpoint_id: EndpointID, delivery_id: DeliveryID) -> Response:
        async def fn(session: AsyncSession, principal: Principal) -> DeliveryReply:
            partner = await _owner(session, principal, name)
            ep = await service.get(session, partner, endpoint_id)
            d = await service.resend(session, ep, delivery_id, services(request).clock.now_ms())
            log = await repository.attempts(session, [d.id])
            return DeliveryReply.of(d, await repository.event_type(session, d.event_id), log.get(d.id, []))
        return await handle(request, fn, permission=writes)


_install("/partners/{PartnerName}/webhooks", _partner, "read", "full", "this partner's")
_install("/admin/webhooks", _operator, "operator", "operator", "every partner's")
