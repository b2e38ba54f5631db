"""What every dashboard page handler uses: the signed-in partner user, and ``show`` (a page
with the header's balance and runway)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from ..web.navigation import PARTNER_NAV
from ..web.pages import page
from ..web.session import Viewer, services, viewer
from . import views


async def partner_viewer(request: Request) -> Viewer:
    """The signed-in partner user (else the sign-in page, through ``page_route``)."""
    return await viewer(request, "partner")


async def show(request: Request, seen: Viewer, template: str, title: str, *, status: int = 200,
               **context: Any) -> Response:
    """A dashboard page: the header's balance and runway are read unless given (``summary``)."""
    svc = services(request)

    async def fn(session: AsyncSession) -> views.Summary:
        assert seen.partner is not None
        return await views.summary(session, seen.partner, svc.clock.now_ms())
    summary = context.pop("summary", None) or await svc.db.run(fn)
    return page(request, template, status=status, title=title, viewer=seen, nav=PARTNER_NAV, summary=summary,
                **context)
