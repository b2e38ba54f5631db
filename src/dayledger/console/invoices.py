"""The console's invoices: every partner's, filtered and paged; write one for N channels,
generate a period's, mark one paid, void one, open its document. The services of the
/admin/invoices routes, called as those routes call them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from ..errors import NotFound
from ..invoices import document, service
from ..invoices.schemas import (INVOICE_STATUSES, GenerateRequest, InvoiceCreate, InvoicePay, InvoiceReply)
from ..web import forms
from ..web.pages import page_route, redirect
from ..web.session import Viewer, services
from .common import attempt, operator_viewer, paging, posted, query, show, validated

router = APIRouter(include_in_schema=False)

LABELS = {"partner": ("partner", "Partner"), "channels": ("channels", "Channels"),
          "extraDays": ("extraDays", "Extra days"), "period": ("period", "Period"),
          "reference": ("reference", "Reference")}
WHERE = {"partner not found": "partner", "nothing to invoice": "channels"}


async def _list(request: Request, seen: Viewer, *, status: int = 200, errors: dict[str, str] | None = None,
                values: dict[str, str] | None = None) -> Response:
    svc = services(request)
    count, offset = paging(request)
    partner = query(request, "partner", 64)
    state = query(request, "status", 20)
    state = state if state in INVOICE_STATUSES else ""
    errors = dict(errors or {})

    async def fn(session: AsyncSession) -> tuple[list[InvoiceReply], int]:
        rows, total = await service.page(session, count, offset, partner_name=partner or None,
                                         status=state or None)
        return [InvoiceReply.of(i.payment, i.partner, svc.settings.public_url) for i in rows], total
    try:
        rows, total = await svc.db.run(fn)
    except NotFound as exc:
        rows, total, status = [], 0, 404
        errors.setdefault("filter_partner", exc.details or exc.message)
    base = "/console/invoices?" + "".join(urlencode({k: v}) + "&" for k, v in (("partner", partner),
                                                                              ("status", state)) if v)
    return await show(request, seen, "console/invoices.html", "Invoices", status=status, invoices=rows, total=total,
                      count=count, offset=offset, partner=partner, state=state, statuses=INVOICE_STATUSES,
                      base=base, errors=errors, values=values or {"partner": partner, "extraDays": "0"})


@router.get("/console/invoices")
@page_route
async def invoices_page(request: Request) -> Response:
    return await _list(request, await operator_viewer(request))


def _whole(form: dict[str, str], field: str, required: bool = True) -> int | None:
    return forms.whole(form, field, LABELS[field][1], low=-10**12, high=10**12, required=required)


@router.post("/console/invoices")
@page_route
async def create_invoice(request: Request) -> Response:
    """POST /admin/invoices."""
    seen, form = await posted(request)
    svc = services(request)

    async def action() -> Response:
        extra = _whole(form, "extraDays", required=False)
        body = validated(InvoiceCreate, {"partner": form.get("partner", "").strip(),
                                         "channels": _whole(form, "channels"),
                                         "extraDays": 0 if extra is None else extra}, LABELS)

        async def fn(session: AsyncSession) -> str:
            invoice = await service.create(session, body.partner, body.channels, body.extraDays, svc.settings,
                                           svc.clock.now_ms())
            p = invoice.payment
            return f"Invoice {p.id} for {body.partner}: {p.days:,} days, {p.total} {p.currency}."
        return redirect("/console/invoices", await svc.db.run(fn))

    async def redo(status: int, errors: dict[str, str]) -> Response:
        return await _list(request, seen, status=status, errors=errors, values=form)
    return await attempt(action, redo, WHERE, "partner")


@router.post("/console/invoices/generate")
@page_route
async def generate(request: Request) -> Response:
    """POST /admin/invoices/generate."""
    seen, form = await posted(request)
    svc = services(request)

    async def action() -> Response:
        body = validated(GenerateRequest, {"period": form.get("period", "").strip()}, LABELS)

        async def fn(session: AsyncSession) -> str:
            done = await service.generate(session, body.period, svc.settings, svc.clock.now_ms())
            skipped = "; ".join(f"{p}: {why}" for p, why in done.skipped)
            return (f"{body.period}: {len(done.created)} invoice(s) created"
                    + (f", {len(done.skipped)} partner(s) skipped ({skipped})" if done.skipped else "") + ".")
        return redirect("/console/invoices", await svc.db.run(fn))

    async def redo(status: int, errors: dict[str, str]) -> Response:
        return await _list(request, seen, status=status, errors=errors, values=form)
    return await attempt(action, redo, {}, "period")


@router.post("/console/invoices/{invoice_id}/pay")
@page_route
async def pay(request: Request, invoice_id: str) -> Response:
    """POST /admin/invoices/{id}/pay: its days are credited once."""
    seen, form = await posted(request)
    svc = services(request)

    async def action() -> Response:
        body = validated(InvoicePay, {"reference": form.get("reference", "").strip() or None}, LABELS)

        async def fn(session: AsyncSession) -> str:
            invoice = await service.pay(session, invoice_id, body.reference, svc.settings,
                                        actor=seen.principal.actor, now_ms=svc.clock.now_ms())
            return f"Invoice {invoice_id} marked paid: {invoice.payment.days:,} days credited to {invoice.partner}."
        return redirect("/console/invoices", await svc.db.run(fn))

    async def redo(status: int, errors: dict[str, str]) -> Response:
        return await _list(request, seen, status=status, errors={f"row:{invoice_id}": next(iter(errors.values()))})
    return await attempt(action, redo, {}, "reference")


@router.post("/console/invoices/{invoice_id}/void")
@page_route
async def void(request: Request, invoice_id: str) -> Response:
    """POST /admin/invoices/{id}/void."""
    seen, _form = await posted(request)
    svc = services(request)

    async def action() -> Response:
        async def fn(session: AsyncSession) -> None:
            await service.void(session, invoice_id, svc.settings, svc.clock.now_ms())
        await svc.db.run(fn)
        return redirect("/console/invoices", f"Invoice {invoice_id} is void.")

    async def redo(status: int, errors: dict[str, str]) -> Response:
        return await _list(request, seen, status=status, errors={f"row:{invoice_id}": next(iter(errors.values()))})
    return await attempt(action, redo, {}, "form")


@router.get("/console/invoices/{invoice_id}/document")
@page_route
async def invoice_document(request: Request, invoice_id: str) -> Response:
    """The printable invoice (GET /admin/invoices/{id}/document), with its own CSP."""
    await operator_viewer(request)

    async def fn(session: AsyncSession) -> Any:
        invoice = await service.show(session, invoice_id)
        return document.render(invoice, *await service.document(session, invoice))
    body = await services(request).db.run(fn)
    return HTMLResponse(body, headers={"Content-Security-Policy": document.CONTENT_SECURITY_POLICY,
                                       "Cache-Control": "private, no-store"})
