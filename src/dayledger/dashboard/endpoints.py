"""The partner's dashboard (SPEC 9) under /dashboard/: server-rendered pages whose every
action calls the same service as its API route, as the signed-in user's ``Principal``
(web/session.py). The overview is here; the other parts are in their own modules."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from ..web.pages import page_route, redirect
from ..web.session import services
from . import account, billing, channels, views
from .common import partner_viewer, show

router = APIRouter(include_in_schema=False)


@router.get("/dashboard")
async def dashboard_root() -> Response:
    return redirect("/dashboard/")


@router.get("/dashboard/")
@page_route
async def overview(request: Request) -> Response:
    seen = await partner_viewer(request)
    svc = services(request)

    async def fn(session: AsyncSession) -> dict[str, Any]:
        assert seen.partner is not None
        now = svc.clock.now_ms()
        return {"summary": await views.summary(session, seen.partner, now),
                "expiring": await views.expiring_soon(session, seen.partner, now),
                "chart": await views.balance_chart(session, seen.partner, now)}
    return await show(request, seen, "dashboard/overview.html", "Overview", **await svc.db.run(fn))


for part in (channels.router, billing.router, account.router):
    router.include_router(part)
