"""Console pages of partners: the list (balances, debt, channel counts, runway; search by
name; create), one partner (price, discounts, trial, limits, invoice billing; credit or
debit with a comment; suspend and resume; recent history and its CSV; users) and its
channels. Each action calls the service of its /admin route, as that route calls it."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from ..api.paging import HistoryFilterParams
from ..channels import service as channels
from ..channels.schemas import ChannelReply
from ..partners import service
from ..partners.schemas import DaysChange, PartnerCreate, PartnerProfile, PartnerUpdate
from ..partners.views import history_csv, profile
from ..users import service as users
from ..web import forms
from ..web.forms import FieldError
from ..web.pages import page_route, redirect
from ..web.session import services
from . import views
from .common import attempt, checked, decimal, operator_viewer, paging, posted, query, show, validated

router = APIRouter(include_in_schema=False)

LABELS = {"name": ("name", "Name"), "email": ("email", "Email"), "trialEligible": ("trialEligible", "Trial"),
          "pricePerMonth": ("pricePerMonth", "Price per 30 days"), "currency": ("currency", "Currency"),
          "trialDays": ("trialDays", "Trial days"), "daysLimit": ("daysLimit", "Low-balance alert"),
          "sandboxLimit": ("sandboxLimit", "Sandbox limit"), "timezone": ("timezone", "Time zone"),
          "discounts": ("discounts", "Volume discounts"),
          "annualDiscountPercent": ("annualDiscountPercent", "Annual discount"),
          "invoiceBilling": ("invoiceBilling", "Invoice billing"), "days": ("days", "Days"),
          "comment": ("comment", "Comment"), "amount": ("amount", "Amount"),
          "amountCurrency": ("amountCurrency", "Currency of the amount")}
# Which field a service's refusal is about, by its message.
WHERE = {"partner exists": "name", "unknown time zone": "timezone", "insufficient balance": "days"}
CHECKBOXES = ("trialEligible", "invoiceBilling")
TIER = re.compile(r"^\s*(\d+)\s*(?:days?)?\s*[:=,;]?\s*(\d+(?:\.\d+)?)\s*%?\s*$")


def _whole(form: dict[str, str], field: str, *, required: bool = False) -> int | None:
    return forms.whole(form, field, LABELS[field][1], low=-10**12, high=10**12, required=required)


def _currency(form: dict[str, str], field: str) -> str | None:
    return form.get(field, "").strip().upper() or None


def _data(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


# --- the list ------------------------------------------------------------------------------------

async def _list(request: Request, seen: Any, *, status: int = 200, errors: dict[str, str] | None = None,
                values: dict[str, str] | None = None) -> Response:
    svc = services(request)
    count, offset = paging(request)
    q = query(request, "q", 64)

    async def fn(session: AsyncSession) -> tuple[list[PartnerProfile], int]:
        now = svc.clock.now_ms()
        rows, total = await service.page(session, count, offset, now, q or None)
        return [PartnerProfile.of(p, counts, now) for p, counts in rows], total
    rows, total = await svc.db.run(fn)
    base = "/console/?" + (urlencode({"q": q}) + "&" if q else "")
    return await show(request, seen, "console/partners.html", "Partners", status=status, partners=rows,
                      total=total, count=count, offset=offset, q=q, base=base, errors=errors or {},
                      values=values or {"timezone": "UTC"})


@router.get("/console")
@router.get("/console/partners")
async def console_root() -> Response:
    return redirect("/console/")


@router.get("/console/")
@page_route
async def partners_page(request: Request) -> Response:
    return await _list(request, await operator_viewer(request))


@router.post("/console/partners")
@page_route
async def create_partner(request: Request) -> Response:
    seen, form = await posted(request)
    svc = services(request)

    async def action() -> Response:
        body = validated(PartnerCreate, _data(
            name=form.get("name", "").strip(), email=form.get("email", "").strip(),
            trialEligible=checked(form, "trialEligible"), pricePerMonth=decimal(form, "pricePerMonth", "Price"),
            currency=_currency(form, "currency"), trialDays=_whole(form, "trialDays"),
            daysLimit=_whole(form, "daysLimit"), sandboxLimit=_whole(form, "sandboxLimit"),
            timezone=form.get("timezone", "").strip() or "UTC"), LABELS)

        async def fn(session: AsyncSession) -> str:
            partner, _project = await service.create(session, body, svc.settings, svc.clock.now_ms())
            return partner.name
        name = await svc.db.run(fn)
        return redirect(f"/console/partners/{name}", f"Partner {name} created.")

    async def redo(status: int, errors: dict[str, str]) -> Response:
        return await _list(request, seen, status=status, errors=errors, values=form)
    return await attempt(action, redo, WHERE, "form")


# --- one partner ---------------------------------------------------------------------------------

def _defaults(p: PartnerProfile) -> dict[str, Any]:
    return {"pricePerMonth": p.pricePerMonth or "", "currency": p.currency,
            "discounts": "\n".join(f"{t.fromDays}: {t.percent}" for t in p.discounts),
            "annualDiscountPercent": p.annualDiscountPercent, "invoiceBilling": p.invoiceBilling,
            "trialEligible": p.trialEligible, "trialDays": p.trialDays, "daysLimit": p.daysLimit,
            "sandboxLimit": p.sandboxLimit, "email": p.email, "timezone": p.timezone}


async def _partner(request: Request, seen: Any, name: str, *, status: int = 200,
                   errors: dict[str, str] | None = None, form: dict[str, str] | None = None,
                   boxes: tuple[str, ...] = ()) -> Response:
    svc = services(request)

    async def fn(session: AsyncSession) -> dict[str, Any]:
        now = svc.clock.now_ms()
        partner = await service.get(session, name)
        entries, total = await service.history(session, partner.id, 10, 0)
        return {"profile": await profile(session, partner, now), "history": entries, "history_total": total,
                "people": await users.people(session, partner.id),
                "actors": await views.user_emails(session, {e.actor_id for e in entries if e.actor_type == "user"})}
    found = await svc.db.run(fn)
    values = _defaults(found["profile"])
    if form:  # shown again after an error: what was sent
        values.update({k: v for k, v in form.items() if k != "csrf"})
        values.update({box: checked(form, box) for box in boxes})
    return await show(request, seen, "console/partner.html", f"Partner {name}", status=status, values=values,
                      errors=errors or {}, **found)


@router.get("/console/partners/{name}")
@page_route
async def partner_page(request: Request, name: str) -> Response:
    return await _partner(request, await operator_viewer(request), name)


def _tiers(raw: str) -> list[dict[str, Any]]:
    tiers = []
    for line in raw.replace(";", "\n").splitlines():
        if not line.strip():
            continue
        m = TIER.match(line)
        if m is None:
            raise FieldError("discounts", f"Volume discounts: “{line.strip()[:40]}” is not “from days: percent”, "
                                          "e.g. “900: 5”")
        tiers.append({"fromDays": int(m.group(1)), "percent": m.group(2)})
    return tiers


async def _update(request: Request, name: str, build: Any, boxes: tuple[str, ...], done: str) -> Response:
    """A PATCH /admin/partners/{name} from a form: ``build(form)`` gives its fields."""
    seen, form = await posted(request)
    svc = services(request)

    async def action() -> Response:
        body = validated(PartnerUpdate, _data(**build(form)), LABELS)

        async def fn(session: AsyncSession) -> None:
            await service.update(session, name, body)
        await svc.db.run(fn)
        return redirect(f"/console/partners/{name}", done)

    async def redo(status: int, errors: dict[str, str]) -> Response:
        return await _partner(request, seen, name, status=status, errors=errors, form=form, boxes=boxes)
    return await attempt(action, redo, WHERE, "form")


@router.post("/console/partners/{name}/pricing")
@page_route
async def change_pricing(request: Request, name: str) -> Response:
    def build(form: dict[str, str]) -> dict[str, Any]:
        return {"pricePerMonth": decimal(form, "pricePerMonth", "Price per 30 days", required=True),
                "currency": _currency(form, "currency"), "discounts": _tiers(form.get("discounts", "")),
                "annualDiscountPercent": decimal(form, "annualDiscountPercent", "Annual discount") or 0,
                "invoiceBilling": checked(form, "invoiceBilling")}
    return await _update(request, name, build, ("invoiceBilling",), "Pricing saved.")


@router.post("/console/partners/{name}/limits")
@page_route
async def change_limits(request: Request, name: str) -> Response:
    def build(form: dict[str, str]) -> dict[str, Any]:
        return {"trialEligible": checked(form, "trialEligible"),
                "trialDays": _whole(form, "trialDays", required=True),
                "daysLimit": _whole(form, "daysLimit", required=True),
                "sandboxLimit": _whole(form, "sandboxLimit", required=True),
                "email": form.get("email", "").strip(), "timezone": form.get("timezone", "").strip() or None}
    return await _update(request, name, build, ("trialEligible",), "Trial and limits saved.")


@router.post("/console/partners/{name}/days")
@page_route
async def change_days(request: Request, name: str) -> Response:
    """Credit or debit: POST /admin/partners/{name}/credit|debit."""
    seen, form = await posted(request)
    svc = services(request)
    direction = form.get("direction")

    async def action() -> Response:
        if direction not in ("credit", "debit"):
            raise FieldError("days", "press Credit or Debit")
        body = validated(DaysChange, _data(
            days=_whole(form, "days", required=True), comment=form.get("comment", ""),
            amount=decimal(form, "amount", "Amount"), currency=_currency(form, "amountCurrency")),
            {**LABELS, "currency": LABELS["amountCurrency"]})

        async def fn(session: AsyncSession) -> int:
            posted_ = await service.change_days(session, name, body, sign=1 if direction == "credit" else -1,
                                                actor=seen.principal.actor, now_ms=svc.clock.now_ms(),
                                                idempotency_key=None)
            return posted_.balance_after
        balance = await svc.db.run(fn)
        verb = "Credited" if direction == "credit" else "Debited"
        return redirect(f"/console/partners/{name}", f"{verb} {body.days:,} days. The balance is {balance:,} days.")

    async def redo(status: int, errors: dict[str, str]) -> Response:
        return await _partner(request, seen, name, status=status, errors=errors, form=form)
    return await attempt(action, redo, WHERE, "days")


async def _set_status(request: Request, name: str, status: str, done: str) -> Response:
    seen, _form = await posted(request)
    svc = services(request)

    async def fn(session: AsyncSession) -> None:
        await service.set_status(session, name, status)
    await svc.db.run(fn)
    return redirect(f"/console/partners/{name}", done)


@router.post("/console/partners/{name}/suspend")
@page_route
async def suspend(request: Request, name: str) -> Response:
    return await _set_status(request, name, "suspended", f"{name} is suspended: it may only read.")


@router.post("/console/partners/{name}/resume")
@page_route
async def resume(request: Request, name: str) -> Response:
    return await _set_status(request, name, "active", f"{name} is active again.")


@router.get("/console/partners/{name}/history.csv")
@page_route
async def history_download(request: Request, name: str) -> Response:
    await operator_viewer(request)
    svc = services(request)

    async def fn(session: AsyncSession) -> str:
        return (await service.get(session, name)).id
    partner_id = await svc.db.run(fn)
    return history_csv(svc.db, partner_id, HistoryFilterParams(type=None, since=None, until=None), None,
                       f"{name}-history.csv")


@router.get("/console/partners/{name}/channels")
@page_route
async def partner_channels(request: Request, name: str) -> Response:
    """Read-only: the rows of GET /admin/partners/{name}/channels."""
    seen = await operator_viewer(request)
    svc = services(request)
    count, offset = paging(request, 50)
    q = query(request, "q", 100)

    async def fn(session: AsyncSession) -> tuple[list[ChannelReply], int, str]:
        partner = await service.get(session, name)
        now = svc.clock.now_ms()
        rows, total, tz = await channels.list_page(session, partner.id, count, offset, now, q=q or None)
        return [ChannelReply.of(ch, now, tz) for ch in rows], total, partner.timezone
    rows, total, tz = await svc.db.run(fn)
    base = f"/console/partners/{name}/channels?" + (urlencode({"q": q}) + "&" if q else "")
    return await show(request, seen, "console/channels.html", f"Channels of {name}", name=name, channels=rows,
                      total=total, count=count, offset=offset, q=q, base=base, tz=tz)
