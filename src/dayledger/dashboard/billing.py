"""The partner's money pages (SPEC 6, 9): top-up (the price with its discount asked again as
you type, paid through Stripe Checkout), the partner's top-ups, saved cards and the
auto-recharge rule, and invoices with their printable documents. Every action calls the
same service as its API route (topups/, autorecharge/, invoices/); buying and changing the
rule need the ``billing`` permission (the owner), everyone else reads. The auto-extend
page is in automation.py, mounted here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import HTMLResponse, JSONResponse, Response

from ..autorecharge import service as autorecharge
from ..autorecharge.schemas import RuleBody
from ..errors import DayledgerError, Forbidden, NotFound
from ..invoices import document as invoice_doc, service as invoices
from ..invoices.schemas import INVOICE_STATUSES
from ..partners.schemas import MAX_DAYS
from ..payments import pricing
from ..topups import service as topups
from ..topups.params import MAX_CHANNELS, TOPUP_STATUSES
from ..web import forms
from ..web.forms import FieldError
from ..web.pages import page_route, redirect
from ..web.session import SignInNeeded, Viewer, check_csrf, services
from . import automation
from .automation import offset_of
from .common import partner_viewer, show

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
UNITS = {"days": ("Days", MAX_DAYS), "channels": ("Channels", MAX_CHANNELS)}


def chosen(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


async def posted(request: Request, seen: Viewer, permission: str, what: str) -> dict[str, str]:
    """A form of these pages: read, its CSRF token checked (403), then the role (``require``)."""
    form = await forms.read(request)
    check_csrf(form.get("csrf"), seen.csrf)
    require(seen, permission, what)
    return form


def require(seen: Viewer, permission: str, what: str) -> None:
    """403 unless the user's role allows ``permission`` (a viewer's or a member's forged post)."""
    if seen.principal.suspended:
        raise Forbidden("partner suspended", "this partner account is suspended: reading works, changes are "
                                             "refused; contact the operator")
    if not seen.can(permission):
        raise Forbidden("not allowed", f"{what} needs the {'owner' if permission == 'billing' else 'member'} role "
                                       f"(your role: {seen.user.role})")


def percent(value: Any) -> str:
    return f"{value.normalize():f}"


def stripe_on(request: Request) -> bool:
    return bool(services(request).settings.stripe_secret_key)


def quote_parts(q: pricing.Quote) -> dict[str, Any]:
    cur = q.currency
    discount = (f"{q.discount_percent.normalize():f}% volume discount: −{pricing.text(q.discount, cur)} {cur}"
                if q.discount else "no volume discount at this amount")
    return {"days": q.days, "total": f"{pricing.text(q.total, cur)} {cur}", "amount": pricing.text(q.total, cur),
            "currency": cur, "subtotal": f"{pricing.text(q.subtotal, cur)} {cur}", "discount": discount,
            "discountPercent": f"{q.discount_percent.normalize():f}",
            "text": f"{q.days:,} days: {pricing.text(q.total, cur)} {cur}"}


def amount_of(form: dict[str, str]) -> tuple[int | None, int | None]:
    """(days, channels) from the form's unit and amount (FieldError on the amount)."""
    unit = form.get("unit", "days")
    if unit not in UNITS:
        raise FieldError("amount", "choose days or channels")
    label, high = UNITS[unit]
    n = forms.whole(form, "amount", label, low=1, high=high)
    return (n, None) if unit == "days" else (None, n)


# --- top-up -----------------------------------------------------------------------------------

@router.get("/dashboard/topup/quote")
async def topup_quote(request: Request) -> Response:
    """The price as JSON for the page's script (the session's partner; same arithmetic as
    ``GET /partners/{name}/topups/quote``), or ``{"error": ...}`` for a number out of range."""
    try:
        seen = await partner_viewer(request)
    except SignInNeeded:
        return JSONResponse({"error": "signed out: reload the page"}, status_code=401)
    params = dict(request.query_params)
    unit = "channels" if "channels" in params and "days" not in params else "days"
    try:
        days, channels = amount_of({"unit": unit, "amount": params.get(unit, "")})
    except FieldError as exc:
        # 200 with the message: a number being typed is not a failed request (the browser
        # would log every 4xx of the page's script as a console error).
        return JSONResponse({"error": exc.message}, headers={"cache-control": "no-store"})
    assert seen.partner is not None
    q = topups.quote_of(seen.partner, topups.days_of(days, channels))
    return JSONResponse(quote_parts(q), headers={"cache-control": "no-store"})


async def _topup_page(request: Request, seen: Viewer, *, form: dict[str, str] | None = None,
                      errors: dict[str, str] | None = None, status: int = 200) -> Response:
    svc = services(request)
    assert seen.partner is not None
    partner = seen.partner
    offset = offset_of(request)
    status_filter = chosen(request.query_params.get("status"), TOPUP_STATUSES)
    form = form or {"unit": "days", "amount": "30"}
    try:
        days, channels = amount_of(form)
        quote: dict[str, Any] | None = quote_parts(topups.quote_of(partner, topups.days_of(days, channels)))
    except FieldError:
        quote = None
    returned = request.query_params.get("topup")

    async def fn(session: AsyncSession) -> dict[str, Any]:
        rows, total = await topups.page(session, partner, PAGE_SIZE, offset, status=status_filter)
        back = None
        if returned:
            try:
                back = await topups.show(session, partner, returned)
            except NotFound:
                back = None
        return {"topups": rows, "total": total, "returned": back}
    data = await svc.db.run(fn)
    return await show(request, seen, "dashboard/topup.html", "Top up", status=status, form=form,
                      errors=errors or {}, quote=quote, stripe_on=stripe_on(request), can_pay=seen.can("billing"),
                      offset=offset, page_size=PAGE_SIZE, status_filter=status_filter, statuses=TOPUP_STATUSES,
                      tiers=pricing.tiers_of(partner.discounts), money=pricing.text, percent=percent,
                      price=f"{pricing.text(partner.price_per_month, partner.currency)} {partner.currency}", **data)


@router.get("/dashboard/topup")
@page_route
async def topup_page(request: Request) -> Response:
    return await _topup_page(request, await partner_viewer(request))


@router.post("/dashboard/topup")
@page_route
async def topup_pay(request: Request) -> Response:
    seen = await partner_viewer(request)
    form = await posted(request, seen, "billing", "buying days")
    svc = services(request)
    assert seen.partner is not None
    name = seen.partner.name
    try:
        days, channels = amount_of(form)

        async def fn(session: AsyncSession) -> str:
            partner = await topups.partner_for(session, seen.principal, name, for_update=True)
            payment = await topups.create(session, partner, topups.days_of(days, channels), channels,
                                          svc.settings, svc.clock.now_ms())
            return payment.id
        topup_id = await svc.db.run(fn)
    except FieldError as exc:
        return await _topup_page(request, seen, form=form, errors={exc.field: exc.message}, status=422)
    except DayledgerError as exc:
        message = exc.message + (f": {exc.details}" if exc.details else "")
        return await _topup_page(request, seen, form=form, errors={"amount": message}, status=exc.status)
    return redirect(f"/dashboard/topup/{topup_id}/checkout")


@router.get("/dashboard/topup/{topup_id}/checkout")
@page_route
async def topup_checkout(request: Request, topup_id: str) -> Response:
    """On to Stripe Checkout: a page of this site that sends the browser on (a form's
    redirect straight to another site would break the page's form-action policy)."""
    seen = await partner_viewer(request)
    assert seen.partner is not None
    partner = seen.partner

    async def fn(session: AsyncSession) -> Any:
        return await topups.show(session, partner, topup_id)
    payment = await services(request).db.run(fn)
    url = payment.payment_url if payment.status == "pending" else None
    what = (f"Top-up {payment.id}: {payment.days:,} days for {pricing.text(payment.total, payment.currency)} "
            f"{payment.currency}, {payment.status}.")
    return await _onward(request, seen, "Pay the top-up", url, what, back="/dashboard/topup")


async def _onward(request: Request, seen: Viewer, title: str, url: str | None, what: str, *, back: str) -> Response:
    response = await show(request, seen, "dashboard/topup_onward.html", title, url=url, what=what, back=back)
    if url and url.startswith(("https://", "http://")):
        response.headers["refresh"] = f"0; url={url}"
    return response


# --- saved cards and auto-recharge ------------------------------------------------------------

async def _cards_page(request: Request, seen: Viewer, *, form: dict[str, str] | None = None,
                      errors: dict[str, str] | None = None, status: int = 200) -> Response:
    svc = services(request)
    assert seen.partner is not None
    partner = seen.partner

    async def fn(session: AsyncSession) -> dict[str, Any]:
        try:
            rule = await autorecharge.show_rule(session, partner)
        except NotFound:
            rule = None
        return {"cards": await autorecharge.cards(session, partner), "rule": rule}
    data = await svc.db.run(fn)
    rule = data["rule"]
    if form is None:
        form = ({"belowDays": str(rule.below_days), "buyDays": str(rule.buy_days),
                 "enabled": "on" if rule.enabled else "", "paymentMethodId": rule.payment_method_id or ""}
                if rule else {"belowDays": "30", "buyDays": "90", "enabled": "on", "paymentMethodId": ""})
    rule_quote = quote_parts(autorecharge.quote_of(partner, rule.buy_days)) if rule else None
    return await show(request, seen, "dashboard/cards.html", "Cards and auto-recharge", status=status, form=form,
                      errors=errors or {}, stripe_on=stripe_on(request), can_pay=seen.can("billing"),
                      rule_quote=rule_quote, money=pricing.text, **data)


@router.get("/dashboard/payment-methods")
@page_route
async def cards_page(request: Request) -> Response:
    return await _cards_page(request, await partner_viewer(request))


@router.post("/dashboard/payment-methods")
@page_route
async def save_card(request: Request) -> Response:
    seen = await partner_viewer(request)
    await posted(request, seen, "billing", "saving a card")
    svc = services(request)
    assert seen.partner is not None
    name = seen.partner.name

    async def fn(session: AsyncSession) -> Any:
        partner = await autorecharge.partner_for(session, seen.principal, name, for_update=True)
        return await autorecharge.start_card_setup(session, partner, svc.settings)
    try:
        checkout = await svc.db.run(fn)
    except DayledgerError as exc:
        return await _cards_page(request, seen, errors={"card": exc.message + (f": {exc.details}" if exc.details
                                                                               else "")}, status=exc.status)
    return await _onward(request, seen, "Save a card", checkout.url, "Enter the card on Stripe's page; it is listed "
                         "here once Stripe confirms it.", back="/dashboard/payment-methods")


@router.post("/dashboard/payment-methods/{pm_id}/remove")
@page_route
async def remove_card(request: Request, pm_id: str) -> Response:
    seen = await partner_viewer(request)
    await posted(request, seen, "billing", "removing a card")
    svc = services(request)
    assert seen.partner is not None
    name = seen.partner.name

    async def fn(session: AsyncSession) -> None:
        partner = await autorecharge.partner_for(session, seen.principal, name, for_update=True)
        await autorecharge.remove_card(session, partner, pm_id, svc.settings)
    try:
        await svc.db.run(fn)
    except NotFound:
        raise
    except DayledgerError as exc:
        return await _cards_page(request, seen, errors={"card": exc.message + (f": {exc.details}" if exc.details
                                                                               else "")}, status=exc.status)
    return redirect("/dashboard/payment-methods", f"Card {pm_id} removed.")


def rule_body(form: dict[str, str]) -> RuleBody:
    below = forms.whole(form, "belowDays", "Below", low=1, high=MAX_DAYS)
    buy = forms.whole(form, "buyDays", "Buy", low=1, high=MAX_DAYS)
    assert below is not None and buy is not None  # required
    card = form.get("paymentMethodId", "").strip() or None
    try:
        return RuleBody(belowDays=below, buyDays=buy, enabled=form.get("enabled") == "on", paymentMethodId=card)
    except ValidationError as exc:
        raise FieldError("paymentMethodId", exc.errors()[0]["msg"]) from exc


@router.post("/dashboard/autorecharge")
@page_route
async def set_rule(request: Request) -> Response:
    seen = await partner_viewer(request)
    form = await posted(request, seen, "billing", "changing auto-recharge")
    svc = services(request)
    assert seen.partner is not None
    name = seen.partner.name
    try:
        body = rule_body(form)

        async def fn(session: AsyncSession) -> None:
            partner = await autorecharge.partner_for(session, seen.principal, name, for_update=True)
            await autorecharge.set_rule(session, partner, body, svc.settings, svc.clock.now_ms())
        await svc.db.run(fn)
    except FieldError as exc:
        return await _cards_page(request, seen, form=form, errors={exc.field: exc.message}, status=422)
    except DayledgerError as exc:
        field = "paymentMethodId" if exc.status == 404 else "rule"
        return await _cards_page(request, seen, form=form, status=exc.status,
                                 errors={field: exc.message + (f": {exc.details}" if exc.details else "")})
    return redirect("/dashboard/payment-methods", "Auto-recharge rule saved.")


@router.post("/dashboard/autorecharge/remove")
@page_route
async def remove_rule(request: Request) -> Response:
    seen = await partner_viewer(request)
    await posted(request, seen, "billing", "removing auto-recharge")
    assert seen.partner is not None
    name = seen.partner.name

    async def fn(session: AsyncSession) -> None:
        partner = await autorecharge.partner_for(session, seen.principal, name, for_update=True)
        await autorecharge.remove_rule(session, partner)
    await services(request).db.run(fn)
    return redirect("/dashboard/payment-methods", "Auto-recharge rule removed.")


# --- invoices ---------------------------------------------------------------------------------

@router.get("/dashboard/invoices")
@page_route
async def invoices_page(request: Request) -> Response:
    seen = await partner_viewer(request)
    assert seen.partner is not None
    partner = seen.partner
    offset = offset_of(request)
    status_filter = chosen(request.query_params.get("status"), INVOICE_STATUSES)

    async def fn(session: AsyncSession) -> tuple[list[invoices.Invoice], int]:
        return await invoices.page(session, PAGE_SIZE, offset, partner=partner, status=status_filter)
    rows, total = await services(request).db.run(fn)
    return await show(request, seen, "dashboard/invoices.html", "Invoices", invoices=[i.payment for i in rows],
                      money=pricing.text, can_pay=seen.can("billing"), total=total, offset=offset,
                      page_size=PAGE_SIZE, status_filter=status_filter, statuses=INVOICE_STATUSES)


@router.get("/dashboard/invoices/{invoice_id}")
@page_route
async def invoice_document(request: Request, invoice_id: str) -> Response:
    """The printable invoice (invoices/document.py), for the partner's own invoices only:
    another partner's is 404, as through the API."""
    seen = await partner_viewer(request)
    assert seen.partner is not None
    partner = seen.partner

    async def fn(session: AsyncSession) -> str:
        invoice = await invoices.show(session, invoice_id, partner=partner)
        return invoice_doc.render(invoice, *await invoices.document(session, invoice))
    return HTMLResponse(await services(request).db.run(fn),
                        headers={"content-security-policy": invoice_doc.CONTENT_SECURITY_POLICY,
                                 "cache-control": "private, no-store", "x-content-type-options": "nosniff",
                                 "referrer-policy": "same-origin"})


router.include_router(automation.router)
