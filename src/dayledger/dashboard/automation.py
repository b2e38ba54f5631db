"""The auto-extend page (/dashboard/automation): each project's default policy (set, pause
or resume, remove), the channels with a policy of their own, and the runway with the burn
it is computed from. Every change calls the same service as ``PUT``/``DELETE
/projects/{id}/autoextend`` (the ``channels`` permission, as there)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from ..autoextend import service as autoextend
from ..autoextend.schemas import PolicyBody, state_of, until_text
from ..errors import DayledgerError, Forbidden
from ..partners.schemas import MAX_DAYS
from ..web import forms
from ..web.forms import FieldError
from ..web.pages import page_route, redirect
from ..web.session import Viewer, check_csrf, services
from . import billing_views
from .common import partner_viewer, show

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
FIELDS = {"belowDays": "belowDays", "extendDays": "extendDays", "until": "until", "budgetDays": "budgetDays",
          "paused": "paused"}


def offset_of(request: Request) -> int:
    """The list's ``offset`` (0 when missing or not a whole number)."""
    raw = request.query_params.get("offset", "0")
    return min(int(raw), 10**9) if forms.WHOLE.fullmatch(raw) and 0 < len(raw) < 12 and raw[0] != "-" else 0


def _allowed(seen: Viewer) -> None:
    if seen.principal.suspended:
        raise Forbidden("partner suspended", "this partner account is suspended: reading works, changes are "
                                             "refused; contact the operator")
    if not seen.can("channels"):
        raise Forbidden("not allowed", f"auto-extend policies need the member or owner role "
                                       f"(your role: {seen.user.role})")


def policy_body(form: dict[str, str]) -> PolicyBody:
    """The policy of the form, each wrong field named (budget below K on the budget)."""
    below = forms.whole(form, "belowDays", "Below (L)", low=1, high=MAX_DAYS)
    extend = forms.whole(form, "extendDays", "Extend by (K)", low=1, high=MAX_DAYS)
    budget = forms.whole(form, "budgetDays", "Budget", low=1, high=MAX_DAYS, required=False)
    until = form.get("until", "").strip() or None
    assert below is not None and extend is not None  # required
    try:
        return PolicyBody(belowDays=below, extendDays=extend, until=until, budgetDays=budget,
                          paused=form.get("paused") == "on")
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(part) for part in first.get("loc", ())]
        field = next((FIELDS[p] for p in loc if p in FIELDS), "budgetDays")
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        if field == "until":
            message = "Until must be a date (YYYY-MM-DD)"
        raise FieldError(field, message) from exc


async def _page(request: Request, seen: Viewer, *, failed: str | None = None, form: dict[str, str] | None = None,
                errors: dict[str, str] | None = None, status: int = 200) -> Response:
    svc = services(request)
    assert seen.partner is not None
    partner_id = seen.partner.id
    offset = offset_of(request)

    async def fn(session: AsyncSession) -> dict[str, Any]:
        rows, total = await billing_views.channel_policies(session, partner_id, PAGE_SIZE, offset)
        return {"projects": await billing_views.project_policies(session, partner_id), "channels": rows,
                "total": total}
    data = await svc.db.run(fn)
    now = svc.clock.now_ms()
    return await show(request, seen, "dashboard/automation.html", "Automation", status=status, failed=failed,
                      form=form or {}, errors=errors or {}, can_edit=seen.can("channels"), offset=offset,
                      page_size=PAGE_SIZE, now=now, state_of=state_of, until_text=until_text, **data)


@router.get("/dashboard/automation")
@page_route
async def automation_page(request: Request) -> Response:
    return await _page(request, await partner_viewer(request))


@router.post("/dashboard/automation/projects/{project_id}")
@page_route
async def set_project_policy(request: Request, project_id: str) -> Response:
    seen = await partner_viewer(request)
    form = await forms.read(request)
    check_csrf(form.get("csrf"), seen.csrf)
    _allowed(seen)
    svc = services(request)
    try:
        body = policy_body(form)

        async def fn(session: AsyncSession) -> None:
            await autoextend.set_for_project(session, seen.principal.require_partner(), project_id, body,
                                             svc.clock.now_ms())
        await svc.db.run(fn)
    except FieldError as exc:
        return await _page(request, seen, failed=project_id, form=form, errors={exc.field: exc.message},
                           status=422)
    except DayledgerError as exc:
        if exc.status == 404:
            raise
        return await _page(request, seen, failed=project_id, form=form, status=exc.status,
                           errors={"policy": exc.message + (f": {exc.details}" if exc.details else "")})
    return redirect("/dashboard/automation", "Auto-extend policy saved.")


@router.post("/dashboard/automation/projects/{project_id}/pause")
@page_route
async def pause_project_policy(request: Request, project_id: str) -> Response:
    """Pause a running policy or resume a paused one: the same PUT, with ``paused`` flipped."""
    seen = await partner_viewer(request)
    form = await forms.read(request)
    check_csrf(form.get("csrf"), seen.csrf)
    _allowed(seen)
    svc = services(request)

    async def fn(session: AsyncSession) -> bool:
        partner_id = seen.principal.require_partner()
        policy = await autoextend.for_project(session, partner_id, project_id)
        body = PolicyBody(belowDays=policy.below_days, extendDays=policy.extend_days,
                          until=until_text(policy.until_ms), budgetDays=policy.budget_days, paused=not policy.paused)
        await autoextend.set_for_project(session, partner_id, project_id, body, svc.clock.now_ms())
        return body.paused
    paused = await svc.db.run(fn)
    return redirect("/dashboard/automation", "Auto-extend policy paused." if paused else "Auto-extend policy resumed.")


@router.post("/dashboard/automation/projects/{project_id}/remove")
@page_route
async def remove_project_policy(request: Request, project_id: str) -> Response:
    seen = await partner_viewer(request)
    form = await forms.read(request)
    check_csrf(form.get("csrf"), seen.csrf)
    _allowed(seen)

    async def fn(session: AsyncSession) -> None:
        await autoextend.remove_for_project(session, seen.principal.require_partner(), project_id)
    await services(request).db.run(fn)
    return redirect("/dashboard/automation", "Auto-extend policy removed.")
