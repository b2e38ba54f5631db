"""The console's events page: recent events across partners (filter by type and partner,
paged) and failing webhook deliveries, resent (or their endpoint enabled again) through
the webhooks service, as POST /admin/webhooks/.../resend and PATCH .../{id} do."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from ..errors import NotFound
from ..events import EVENT_TYPES
from ..partners import service as partners
from ..webhooks import service as webhooks
from ..webhooks.schemas import TEST_EVENT, EndpointUpdate
from ..web.pages import page_route, redirect
from ..web.session import Viewer, services
from . import views
from .common import attempt, operator_viewer, paging, posted, query, show

router = APIRouter(include_in_schema=False)
TYPES = sorted([*EVENT_TYPES, TEST_EVENT])


async def _page(request: Request, seen: Viewer, *, status: int = 200, errors: dict[str, str] | None = None
                ) -> Response:
    svc = services(request)
    count, offset = paging(request)
    failing_offset = request.query_params.get("failing", "0")
    failing_offset_n = int(failing_offset) if failing_offset.isdigit() and len(failing_offset) < 10 else 0
    kind = query(request, "type", 40)
    kind = kind if kind in TYPES else ""
    partner = query(request, "partner", 64)
    errors = dict(errors or {})

    async def fn(session: AsyncSession) -> dict[str, Any]:
        partner_id = None
        found: dict[str, Any] = {}
        if partner:
            try:
                partner_id = (await partners.get(session, partner)).id
            except NotFound as exc:
                found["missing"] = exc.details
        rows: list[views.EventRow] = []
        total = 0
        if "missing" not in found:
            rows, total = await views.events_page(session, count, offset, type=kind or None, partner_id=partner_id)
        failing, failing_total = await views.failing_deliveries(session, 20, failing_offset_n)
        return {**found, "events": rows, "total": total, "failing": failing, "failing_total": failing_total}
    found = await svc.db.run(fn)
    if "missing" in found:
        errors.setdefault("filter_partner", found.pop("missing"))
        status = 404 if status == 200 else status
    base = "/console/events?" + "".join(urlencode({k: v}) + "&" for k, v in (("type", kind), ("partner", partner))
                                         if v)
    return await show(request, seen, "console/events.html", "Events", status=status, count=count, offset=offset,
                      kind=kind, partner=partner, types=TYPES, base=base, failing_offset=failing_offset_n,
                      errors=errors, **found)


@router.get("/console/events")
@page_route
async def events_page(request: Request) -> Response:
    return await _page(request, await operator_viewer(request))


async def _endpoint_action(request: Request, endpoint_id: str, act: Any) -> Response:
    seen, _form = await posted(request)
    svc = services(request)

    async def action() -> Response:
        async def fn(session: AsyncSession) -> str:
            exists, owner = await views.endpoint_owner(session, endpoint_id)
            if not exists:
                raise NotFound("webhook endpoint not found", f"no webhook endpoint '{endpoint_id}'")
            return await act(session, owner, svc.clock.now_ms())
        return redirect("/console/events", await svc.db.run(fn))

    async def redo(status: int, errors: dict[str, str]) -> Response:
        return await _page(request, seen, status=status, errors={f"ep:{endpoint_id}": next(iter(errors.values()))})
    return await attempt(action, redo, {}, "form")


@router.post("/console/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend")
@page_route
async def resend(request: Request, endpoint_id: str, delivery_id: int) -> Response:
    async def act(session: AsyncSession, owner: Any, now_ms: int) -> str:
        ep = await webhooks.get(session, owner, endpoint_id)
        await webhooks.resend(session, ep, delivery_id, now_ms)
        return f"Delivery {delivery_id} will be sent again now."
    return await _endpoint_action(request, endpoint_id, act)


@router.post("/console/webhooks/{endpoint_id}/enable")
@page_route
async def enable(request: Request, endpoint_id: str) -> Response:
    async def act(session: AsyncSession, owner: Any, now_ms: int) -> str:
        ep = await webhooks.get(session, owner, endpoint_id, for_update=True)
        await webhooks.update(session, ep, EndpointUpdate(enabled=True), services(request).settings, now_ms)
        return f"Endpoint {endpoint_id} enabled: its waiting deliveries are sent again, in order."
    return await _endpoint_action(request, endpoint_id, act)
