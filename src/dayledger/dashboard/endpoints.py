"""The partner's dashboard (SPEC 9) under /dashboard/: server-rendered pages whose every
action calls the same service as its API route, as the signed-in user's ``Principal``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from ..web.navigation import PARTNER_NAV
from ..web.pages import page, page_route
from ..web.session import Viewer, services, viewer
from . import views

router = APIRouter(include_in_schema=False)


async def partner_viewer(request: Request) -> Viewer:
    return await viewer(request, "partner")


async def show(request: Request, seen: Viewer, template: str, title: str, *, status: int = 200,
               **context: Any) -> Response:
    """A dashboard page: the header's balance and runway are read with the page's data."""
    svc = services(request)

    async def fn(session: AsyncSession) -> views.Summary:
        assert seen.partner is not None
        return await views.summary(session, seen.partner, svc.clock.now_ms())
    summary = context.pop("summary", None) or await svc.db.run(fn)
    return page(request, template, status=status, title=title, viewer=seen, nav=PARTNER_NAV, summary=summary,
                **context)


@router.get("/dashboard")
async def dashboard_root() -> Response:
    from ..web.pages import redirect
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


# The pages of each part of the dashboard, in their own modules.
from . import account, billing, channels  # noqa: E402 - they import show() and partner_viewer() from here

for part in (channels.router, billing.router, account.router):
    router.include_router(part)
