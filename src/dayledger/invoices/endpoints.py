"""Invoices by channel count: the operator writes, generates, marks paid and voids them;
partners read theirs; both read the printable document; billing details of both sides."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..api import ERROR_RESPONSES, ApiRoute, Paging, authorized, error_responses, handle, services
from ..auth.service import Principal
from ..partners.params import PartnerName
from . import document, service
from .params import InvoiceID, InvoiceStatus, PartnerFilter, PeriodFilter
from .schemas import (BillingDetails, BillingDetailsReply, GenerateReply, GenerateRequest, InvoiceCreate,
                      InvoicePage, InvoicePay, InvoiceReply, Skipped)

router = APIRouter(tags=["Invoices"], responses=ERROR_RESPONSES, route_class=ApiRoute)

# The document is HTML; its errors stay in the one JSON error shape (the plain Response
# class has no media type of its own, so the declared errors stay JSON, as for CSV).
HTML_REPLY: dict[str, Any] = {"response_class": Response, "responses": {
    200: {"description": "The invoice as a printable HTML page", "content": {"text/html": {"schema": {
        "type": "string"}}}}, **error_responses(404)}}


def reply(request: Request, invoice: service.Invoice) -> InvoiceReply:
    return InvoiceReply.of(invoice.payment, invoice.partner, services(request).settings.public_url)


def page_reply(request: Request, rows: list[service.Invoice], total: int, offset: int) -> InvoicePage:
    return InvoicePage(invoices=[reply(request, i) for i in rows], count=len(rows), offset=offset, total=total)


def html(invoice: service.Invoice, parties: tuple[dict[str, Any], dict[str, Any]]) -> HTMLResponse:
    return HTMLResponse(document.render(invoice, *parties),
                        headers={"Content-Security-Policy": document.CONTENT_SECURITY_POLICY,
                                 "Cache-Control": "private, no-store"})


# --- the operator's routes -------------------------------------------------------------

@router.post("/admin/invoices", status_code=201, response_model=InvoiceReply, tags=["Operator"],
             responses=error_responses(404, 409, 502),
             summary="Invoice a partner for N channels (N x 30 days) plus optional extra days",
             description="Priced like a top-up of that many days (the partner's volume discount applies to "
                         "channel and extra days alike). The invoice is `open` until paid; paying it credits its "
                         "days once. With Stripe configured it also gets a Stripe invoice and `hostedInvoiceUrl`, "
                         "the page where the partner pays it. 409 when the price is zero.")
async def create_invoice(request: Request, body: InvoiceCreate) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> InvoiceReply:
        svc = services(request)
        invoice = await service.create(session, body.partner, body.channels, body.extraDays, svc.settings,
                                       svc.clock.now_ms())
        return reply(request, invoice)
    return await handle(request, fn, permission="operator", status=201)


@router.post("/admin/invoices/generate", response_model=GenerateReply, tags=["Operator"],
             responses=error_responses(409),
             summary="Invoice every invoice-billed partner for a period, once",
             description="For each partner with `invoiceBilling`, one invoice for its channels in mode `live` "
                         "that are not deleted, counted now. A partner already invoiced for the period, or with "
                         "no live channels, is skipped with the reason; running it again creates nothing twice.")
async def generate_invoices(request: Request, body: GenerateRequest) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> GenerateReply:
        svc = services(request)
        done = await service.generate(session, body.period, svc.settings, svc.clock.now_ms())
        return GenerateReply(period=done.period, created=[reply(request, i) for i in done.created],
                             skipped=[Skipped(partner=p, reason=why) for p, why in done.skipped])
    return await handle(request, fn, permission="operator")


@router.get("/admin/invoices", response_model=InvoicePage, tags=["Operator"], responses=error_responses(404),
            summary="Every partner's invoices, newest first")
async def list_invoices(request: Request, paging: Paging, partner: PartnerFilter = None,
                        status: InvoiceStatus = None, period: PeriodFilter = None) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> InvoicePage:
        rows, total = await service.page(session, paging.count, paging.offset, partner_name=partner, status=status,
                                         period=period)
        return page_reply(request, rows, total, paging.offset)
    return await handle(request, fn, permission="operator")


@router.get("/admin/invoices/{InvoiceID}", response_model=InvoiceReply, tags=["Operator"],
            responses=error_responses(404), summary="One invoice")
async def get_invoice(request: Request, invoice_id: InvoiceID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> InvoiceReply:
        return reply(request, await service.show(session, invoice_id))
    return await handle(request, fn, permission="operator")


@router.post("/admin/invoices/{InvoiceID}/pay", response_model=InvoiceReply, tags=["Operator"],
             responses=error_responses(404, 409, 502, 503),
             summary="Mark an open invoice paid (e.g. by bank transfer): its days are credited once",
             description="409 when it is already paid or void. A Stripe invoice is marked paid out of band, so "
                         "its hosted page stops asking for the money.")
async def pay_invoice(request: Request, invoice_id: InvoiceID, body: InvoicePay | None = Body(None)) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> InvoiceReply:
        svc = services(request)
        invoice = await service.pay(session, invoice_id, body.reference if body else None, svc.settings,
                                    actor=principal.actor, now_ms=svc.clock.now_ms())
        return reply(request, invoice)
    return await handle(request, fn, permission="operator")


@router.post("/admin/invoices/{InvoiceID}/void", response_model=InvoiceReply, tags=["Operator"],
             responses=error_responses(404, 409, 502, 503),
             summary="Void an open invoice: it can no longer be paid (409 when it is not open)")
async def void_invoice(request: Request, invoice_id: InvoiceID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> InvoiceReply:
        svc = services(request)
        return reply(request, await service.void(session, invoice_id, svc.settings, svc.clock.now_ms()))
    return await handle(request, fn, permission="operator")


@router.get("/admin/invoices/{InvoiceID}/document", tags=["Operator"], summary="An invoice as a printable page",
            **HTML_REPLY)
async def admin_invoice_document(request: Request, invoice_id: InvoiceID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> HTMLResponse:
        invoice = await service.show(session, invoice_id)
        return html(invoice, await service.document(session, invoice))
    return await authorized(request, fn, permission="operator")


@router.get("/admin/billing-details", response_model=BillingDetailsReply, tags=["Operator"],
            summary="The operator's billing details: the issuer on every invoice")
async def get_issuer_details(request: Request) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> BillingDetailsReply:
        return BillingDetailsReply.of(await service.issuer_details(session))
    return await handle(request, fn, permission="operator")


@router.put("/admin/billing-details", response_model=BillingDetailsReply, tags=["Operator"],
            responses=error_responses(409), summary="Set the operator's billing details (all four fields)")
async def put_issuer_details(request: Request, body: BillingDetails) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> BillingDetailsReply:
        return BillingDetailsReply.of(await service.set_issuer_details(session, body))
    return await handle(request, fn, permission="operator")


# --- the partner's routes (the operator may use them for any partner) ------------------

@router.get("/partners/{PartnerName}/invoices", response_model=InvoicePage, responses=error_responses(404),
            summary="The partner's invoices, newest first")
async def list_partner_invoices(request: Request, name: PartnerName, paging: Paging,
                                status: InvoiceStatus = None) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> InvoicePage:
        partner = await service.partner_for(session, principal, name)
        rows, total = await service.page(session, paging.count, paging.offset, partner=partner, status=status)
        return page_reply(request, rows, total, paging.offset)
    return await handle(request, fn, permission="read")


@router.get("/partners/{PartnerName}/invoices/{InvoiceID}", response_model=InvoiceReply,
            responses=error_responses(404), summary="One of the partner's invoices")
async def get_partner_invoice(request: Request, name: PartnerName, invoice_id: InvoiceID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> InvoiceReply:
        partner = await service.partner_for(session, principal, name)
        return reply(request, await service.show(session, invoice_id, partner=partner))
    return await handle(request, fn, permission="read")


@router.get("/partners/{PartnerName}/invoices/{InvoiceID}/document", summary="An invoice as a printable page",
            **HTML_REPLY)
async def partner_invoice_document(request: Request, name: PartnerName, invoice_id: InvoiceID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> HTMLResponse:
        partner = await service.partner_for(session, principal, name)
        invoice = await service.show(session, invoice_id, partner=partner)
        return html(invoice, await service.document(session, invoice))
    return await authorized(request, fn, permission="read")


@router.get("/partners/{PartnerName}/billing-details", response_model=BillingDetailsReply,
            responses=error_responses(404), summary="The partner's billing details, shown on its invoices")
async def get_partner_details(request: Request, name: PartnerName) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> BillingDetailsReply:
        partner = await service.partner_for(session, principal, name)
        return BillingDetailsReply.of(partner.billing_details)
    return await handle(request, fn, permission="read")


@router.put("/partners/{PartnerName}/billing-details", response_model=BillingDetailsReply,
            responses=error_responses(404, 409),
            summary="Set the partner's billing details (company, address, taxId, email; all four replaced)")
async def put_partner_details(request: Request, name: PartnerName, body: BillingDetails) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> BillingDetailsReply:
        await service.partner_for(session, principal, name)
        return BillingDetailsReply.of(await service.set_partner_details(session, name, body))
    return await handle(request, fn, permission="billing")
