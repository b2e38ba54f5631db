"""The account pages of the dashboard (SPEC 9): webhook endpoints with their delivery log,
API tokens, the partner's people and the settings. Every change calls the service of its
API route the way that route does, as the signed-in user's ``Principal``; only an owner
(scope ``full``) sees the controls, and a forged post from anyone else answers 403. A
secret (webhook signing secret, API token, invitation link) is shown once, in the answer
of the form that made it, never stored in a page that can be opened again."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any, TypeVar
from zoneinfo import available_timezones

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from ..auth import service as auth
from ..errors import DayledgerError, Forbidden
from ..events import EVENT_TYPES
from ..invoices import service as invoices
from ..invoices.schemas import BillingDetails, BillingDetailsReply
from ..models import Partner
from ..notices import mailer
from ..notices import service as notices
from ..notices.schemas import ALL, DEFAULT_EMAIL_EVENTS, NoticeSettingsBody, NoticeSettingsReply
from ..partners import service as partners
from ..partners.schemas import PartnerSettings, PartnerUpdate, TokenCreate
from ..users import service as users
from ..webhooks import repository as webhook_log
from ..webhooks import service as webhooks
from ..webhooks.schemas import EndpointCreate, EndpointUpdate
from ..web import forms
from ..web.forms import FieldError
from ..web.pages import page_route, redirect
from ..web.session import Viewer, check_csrf, services
from .common import partner_viewer, show

router = APIRouter(include_in_schema=False)
log = logging.getLogger("dayledger.web")

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
LOG_PAGE = 20  # deliveries per page of an endpoint's log
DELIVERY_STATUSES = ("pending", "succeeded", "disabled")
TIMEZONES = sorted(available_timezones())
OWNERS_ONLY = "only an owner of this account can change this; your role is '{role}'"


# --- what every form does ------------------------------------------------------------------------

async def _posted(request: Request, seen: Viewer, permission: str = "full") -> dict[str, str]:
    """The form, after its CSRF token (403) and the role's right to ``permission`` (403)."""
    form = await forms.read(request)
    check_csrf(form.get("csrf"), seen.csrf)
    if not seen.can(permission):
        if seen.principal.suspended:
            raise Forbidden("partner suspended", "this account is suspended: reading works, changes are refused")
        raise Forbidden("not allowed", OWNERS_ONLY.format(role=seen.user.role))
    return form


async def _run(request: Request, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """``fn`` in one transaction (rolled back when it raises)."""
    return await services(request).db.run(fn)


def _now(request: Request) -> int:
    return services(request).clock.now_ms()


def _partner(seen: Viewer) -> Partner:
    assert seen.partner is not None
    return seen.partner


def _model(cls: type[M], data: dict[str, Any], fields: dict[str, tuple[str, str]]) -> M:
    """The request model the API route reads, from form values; its first complaint goes
    next to its field (``fields``: model field → form field and label)."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else ""
        field, label = fields.get(name, ("", name))
        message = str(first["msg"]).removeprefix("Value error, ")
        raise FieldError(field, f"{label}: {message}" if label else message) from None


def _problem(exc: DayledgerError) -> str:
    return exc.message + (f": {exc.details}" if exc.details else "")


def _offset(request: Request) -> int:
    raw = request.query_params.get("offset", "0")
    return min(int(raw), 10**9) if raw.isascii() and raw.isdigit() and len(raw) < 12 else 0


# --- webhooks ----------------------------------------------------------------------------------------

WEBHOOK_FIELDS = {"url": ("url", "URL"), "events": ("events", "Events"), "description": ("description", "Description")}


async def _endpoint_values(request: Request, form: dict[str, str]) -> dict[str, Any]:
    """The endpoint form: URL, description, and the events (All events, or the boxes ticked)."""
    chosen = (await forms.read_lists(request)).get("events", [])
    events = [ALL] if form.get("events_mode", "all") == "all" else chosen
    return {"url": form.get("url", ""), "events": events, "description": form.get("description", "")}


def _endpoint_body(cls: type[M], values: dict[str, Any]) -> M:
    if not values["events"]:
        raise FieldError("events", "Events: tick at least one event, or choose All events")
    return _model(cls, values, WEBHOOK_FIELDS)


async def _webhooks_page(request: Request, seen: Viewer, *, errors: dict[str, str] | None = None,
                         values: dict[str, Any] | None = None, status: int = 200) -> Response:
    async def fn(session: AsyncSession) -> list[Any]:
        partner = await partners.for_principal(session, seen.principal, _partner(seen).name)
        return await webhook_log.endpoints(session, partner.id)
    endpoints = await _run(request, fn)
    return await show(request, seen, "dashboard/webhooks.html", "Webhooks", status=status, endpoints=endpoints,
                      event_types=EVENT_TYPES, errors=errors or {},
                      values=values or {"events": [ALL], "url": "", "description": ""})


@router.get("/dashboard/webhooks")
@page_route
async def webhooks_list(request: Request) -> Response:
    return await _webhooks_page(request, await partner_viewer(request))


@router.post("/dashboard/webhooks")
@page_route
async def webhook_create(request: Request) -> Response:
    seen = await partner_viewer(request)
    form = await _posted(request, seen)
    values = await _endpoint_values(request, form)
    svc = services(request)
    try:
        body = _endpoint_body(EndpointCreate, values)

        async def fn(session: AsyncSession) -> Any:
            partner = await partners.for_principal(session, seen.principal, _partner(seen).name)
            return await webhooks.create(session, partner, body, svc.settings, svc.clock.now_ms())
        ep = await _run(request, fn)
    except FieldError as exc:
        return await _webhooks_page(request, seen, errors={exc.field: exc.message}, values=values, status=422)
    except DayledgerError as exc:  # a refused URL (422), too many endpoints (409)
        field = "url" if exc.status == 422 else ""
        return await _webhooks_page(request, seen, errors={field: _problem(exc)}, values=values, status=exc.status)
    return await show(request, seen, "dashboard/webhooks_secret.html", "Webhook endpoint added", status=201,
                      endpoint=ep, secret=ep.secret, created=True)


async def _endpoint_action(request: Request, endpoint_id: str,
                           act: Callable[[AsyncSession, Any], Awaitable[Any]]) -> tuple[Viewer, Any]:
    """Run ``act`` on the partner's endpoint (locked), as the API's mutating routes do."""
    seen = await partner_viewer(request)
    await _posted(request, seen)

    async def fn(session: AsyncSession) -> Any:
        partner = await partners.for_principal(session, seen.principal, _partner(seen).name)
        ep = await webhooks.get(session, partner, endpoint_id, for_update=True)
        return await act(session, ep)
    return seen, await _run(request, fn)


async def _set_enabled(request: Request, endpoint_id: str, enabled: bool) -> Response:
    svc = services(request)

    async def act(session: AsyncSession, ep: Any) -> Any:
        return await webhooks.update(session, ep, EndpointUpdate(enabled=enabled), svc.settings, svc.clock.now_ms())
    seen, ep = await _endpoint_action(request, endpoint_id, act)
    return redirect(f"/dashboard/webhooks/{ep.id}" if request.query_params.get("back") == "log"
                    else "/dashboard/webhooks", f"{ep.url} is {'enabled' if enabled else 'disabled'}.")


@router.post("/dashboard/webhooks/{endpoint_id}/enable")
@page_route
async def webhook_enable(request: Request, endpoint_id: str) -> Response:
    return await _set_enabled(request, endpoint_id, True)


@router.post("/dashboard/webhooks/{endpoint_id}/disable")
@page_route
async def webhook_disable(request: Request, endpoint_id: str) -> Response:
    return await _set_enabled(request, endpoint_id, False)


@router.post("/dashboard/webhooks/{endpoint_id}/delete")
@page_route
async def webhook_delete(request: Request, endpoint_id: str) -> Response:
    async def act(session: AsyncSession, ep: Any) -> str:
        url = str(ep.url)
        await webhooks.delete(session, ep)
        return url
    _, url = await _endpoint_action(request, endpoint_id, act)
    return redirect("/dashboard/webhooks", f"The endpoint {url} and its delivery log were removed.")


@router.post("/dashboard/webhooks/{endpoint_id}/secret")
@page_route
async def webhook_rotate(request: Request, endpoint_id: str) -> Response:
    now = _now(request)

    async def act(session: AsyncSession, ep: Any) -> Any:
        await webhooks.rotate_secret(session, ep, now)
        return ep
    seen, ep = await _endpoint_action(request, endpoint_id, act)
    return await show(request, seen, "dashboard/webhooks_secret.html", "New signing secret", endpoint=ep,
                      secret=ep.secret, created=False)


@router.post("/dashboard/webhooks/{endpoint_id}/test")
@page_route
async def webhook_test(request: Request, endpoint_id: str) -> Response:
    seen = await partner_viewer(request)
    await _posted(request, seen)
    now = _now(request)

    async def fn(session: AsyncSession) -> tuple[int, str]:
        partner = await partners.for_principal(session, seen.principal, _partner(seen).name)
        ep = await webhooks.get(session, partner, endpoint_id)
        return await webhooks.queue_test(session, ep, now)
    try:
        _, event_id = await _run(request, fn)
    except DayledgerError as exc:
        if exc.status == 404:
            raise
        return await _log_page(request, seen, endpoint_id, error=_problem(exc), status=exc.status)
    return redirect(f"/dashboard/webhooks/{endpoint_id}",
                    f"Test event {event_id} queued: the worker sends it within its interval; reload to see it.")


@router.post("/dashboard/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend")
@page_route
async def webhook_resend(request: Request, endpoint_id: str, delivery_id: int) -> Response:
    seen = await partner_viewer(request)
    await _posted(request, seen)
    now = _now(request)

    async def fn(session: AsyncSession) -> Any:
        partner = await partners.for_principal(session, seen.principal, _partner(seen).name)
        ep = await webhooks.get(session, partner, endpoint_id)
        return await webhooks.resend(session, ep, delivery_id, now)
    try:
        d = await _run(request, fn)
    except DayledgerError as exc:
        if exc.status == 404:
            raise
        return await _log_page(request, seen, endpoint_id, error=_problem(exc), status=exc.status)
    return redirect(f"/dashboard/webhooks/{endpoint_id}", f"Delivery {d.id} will be sent again, now.")


@router.post("/dashboard/webhooks/{endpoint_id}")
@page_route
async def webhook_update(request: Request, endpoint_id: str) -> Response:
    """Change the URL, events and description (the API's PATCH)."""
    seen = await partner_viewer(request)
    form = await _posted(request, seen)
    values = await _endpoint_values(request, form)
    svc = services(request)
    try:
        body = _endpoint_body(EndpointUpdate, values)

        async def fn(session: AsyncSession) -> Any:
            partner = await partners.for_principal(session, seen.principal, _partner(seen).name)
            ep = await webhooks.get(session, partner, endpoint_id, for_update=True)
            return await webhooks.update(session, ep, body, svc.settings, svc.clock.now_ms())
        ep = await _run(request, fn)
    except FieldError as exc:
        return await _log_page(request, seen, endpoint_id, errors={exc.field: exc.message}, values=values,
                               status=422)
    except DayledgerError as exc:
        if exc.status == 404:
            raise
        field = "url" if exc.status == 422 else ""
        return await _log_page(request, seen, endpoint_id, errors={field: _problem(exc)}, values=values,
                               status=exc.status)
    return redirect(f"/dashboard/webhooks/{ep.id}", "The endpoint was changed.")


async def _log_page(request: Request, seen: Viewer, endpoint_id: str, *, error: str | None = None,
                    errors: dict[str, str] | None = None, values: dict[str, Any] | None = None,
                    status: int = 200) -> Response:
    offset = _offset(request)
    wanted = request.query_params.get("status") or None
    only = wanted if wanted in DELIVERY_STATUSES else None

    async def fn(session: AsyncSession) -> dict[str, Any]:
        partner = await partners.for_principal(session, seen.principal, _partner(seen).name)
        ep = await webhooks.get(session, partner, endpoint_id)
        rows, total = await webhook_log.delivery_page(session, ep.id, LOG_PAGE, offset, only)
        return {"endpoint": ep, "rows": rows, "total": total}
    found = await _run(request, fn)
    ep = found["endpoint"]
    return await show(request, seen, "dashboard/webhooks_log.html", f"Webhook {ep.url}", status=status,
                      offset=offset, per_page=LOG_PAGE, only=only, statuses=DELIVERY_STATUSES, error=error,
                      errors=errors or {}, event_types=EVENT_TYPES,
                      values=values or {"url": ep.url, "events": list(ep.events), "description": ep.description},
                      **found)


@router.get("/dashboard/webhooks/{endpoint_id}")
@page_route
async def webhook_log_page(request: Request, endpoint_id: str) -> Response:
    return await _log_page(request, await partner_viewer(request), endpoint_id)


# --- API tokens --------------------------------------------------------------------------------------

TOKEN_FIELDS = {"name": ("name", "Name"), "scope": ("scope", "Scope"), "expiresInDays": ("expires", "Expires after")}
SCOPES = (("full", "full: everything, with tokens and settings"), ("channels", "channels: read and manage channels"),
          ("billing", "billing: read and pay"), ("read", "read: read only"))


async def _tokens_page(request: Request, seen: Viewer, *, errors: dict[str, str] | None = None,
                       values: dict[str, Any] | None = None, status: int = 200) -> Response:
    tokens: list[Any] = []
    # The list is the owners', as GET /partners/{name}/tokens needs 'full' (a suspended
    # partner's owner still reads it; changing needs an active account too).
    listed = "full" in auth.GRANTS[seen.principal.scope]
    if listed:
        async def fn(session: AsyncSession) -> list[Any]:
            return await auth.list_tokens(session, seen.principal.require_partner(_partner(seen).name))
        tokens = await _run(request, fn)
    return await show(request, seen, "dashboard/tokens.html", "API tokens", status=status, tokens=tokens,
                      listed=listed, scopes=SCOPES, errors=errors or {}, values=values or {"scope": "full"},
                      now=_now(request))


@router.get("/dashboard/tokens")
@page_route
async def tokens_list(request: Request) -> Response:
    return await _tokens_page(request, await partner_viewer(request))


@router.post("/dashboard/tokens")
@page_route
async def token_create(request: Request) -> Response:
    seen = await partner_viewer(request)
    form = await _posted(request, seen)
    values = {"name": form.get("name", ""), "scope": form.get("scope", ""), "expires": form.get("expires", "")}
    now = _now(request)
    try:
        days = forms.whole(form, "expires", "Expires after", low=1, high=3650, required=False)
        body = _model(TokenCreate, {"name": values["name"], "scope": values["scope"], "expiresInDays": days},
                      TOKEN_FIELDS)

        async def fn(session: AsyncSession) -> auth.IssuedToken:
            return await auth.issue_for_partner(session, seen.principal.require_partner(_partner(seen).name), body,
                                                now)
        issued = await _run(request, fn)
    except FieldError as exc:
        return await _tokens_page(request, seen, errors={exc.field: exc.message}, values=values, status=422)
    except DayledgerError as exc:
        return await _tokens_page(request, seen, errors={"": _problem(exc)}, values=values, status=exc.status)
    return await show(request, seen, "dashboard/tokens_created.html", "API token created", status=201, issued=issued)


@router.post("/dashboard/tokens/{token_id}/revoke")
@page_route
async def token_revoke(request: Request, token_id: str) -> Response:
    seen = await partner_viewer(request)
    await _posted(request, seen)
    now = _now(request)

    async def fn(session: AsyncSession) -> Any:
        return await auth.revoke(session, token_id, now, seen.principal.require_partner(_partner(seen).name))
    token = await _run(request, fn)
    return redirect("/dashboard/tokens", f"The token {token.name or token.prefix + '…'} was revoked.")


# --- people --------------------------------------------------------------------------------------------

ROLES = (("owner", "owner: everything"), ("member", "member: channels"), ("viewer", "viewer: read only"))


async def _users_page(request: Request, seen: Viewer, *, errors: dict[str, str] | None = None,
                      values: dict[str, Any] | None = None, status: int = 200) -> Response:
    async def fn(session: AsyncSession) -> list[Any]:
        return [u for u in await users.people(session, _partner(seen).id) if u.disabled_ms is None]
    people = await _run(request, fn)
    return await show(request, seen, "dashboard/users.html", "Users", status=status, people=people, roles=ROLES,
                      errors=errors or {}, values=values or {"role": "member"})


@router.get("/dashboard/users")
@page_route
async def users_list(request: Request) -> Response:
    return await _users_page(request, await partner_viewer(request))


@router.post("/dashboard/users/invite")
@page_route
async def user_invite(request: Request) -> Response:
    seen = await partner_viewer(request)
    form = await _posted(request, seen)
    values = {"email": form.get("email", "").strip(), "role": form.get("role", "")}
    now = _now(request)
    try:
        email = forms.text(form, "email", "Email", max_length=254)

        async def fn(session: AsyncSession) -> str:
            partner = await partners.for_principal(session, seen.principal, _partner(seen).name)
            _, raw = await users.invite(session, partner, email, values["role"], seen.user.id, now)
            return raw
        raw = await _run(request, fn)
    except FieldError as exc:
        return await _users_page(request, seen, errors={exc.field: exc.message}, values=values, status=422)
    except DayledgerError as exc:
        field = "role" if exc.message == "unknown role" else "email"
        return await _users_page(request, seen, errors={field: _problem(exc)}, values=values, status=exc.status)
    link = services(request).settings.public_url.rstrip("/") + f"/invite/{raw}"
    mailed = await _mail_invitation(request, seen, users.normal_email(email), values["role"], link)
    return await show(request, seen, "dashboard/users_invited.html", "Invitation ready", status=201,
                      email=users.normal_email(email), role=values["role"], link=link, mailed=mailed,
                      days=users.INVITATION_DAYS)


async def _mail_invitation(request: Request, seen: Viewer, to: str, role: str, link: str) -> str | None:
    """Mail the link when SMTP is configured (the notices' mailer). Returns what happened
    to show, or None when there is no SMTP server: the owner passes the link on."""
    settings = services(request).settings
    if not settings.smtp_url:
        return None
    brand = parseaddr(settings.smtp_from)[0] or "dayledger"
    partner = _partner(seen)
    msg = EmailMessage()
    msg["Subject"] = f"[{brand}] {seen.user.email} invites you to {partner.name}"
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Date"] = formatdate(_now(request) / 1000, usegmt=True)
    msg["Message-ID"] = make_msgid(domain="dayledger")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(f"{seen.user.email} invites you to the {brand} account of {partner.name} as {role}.\n\n"
                    f"Choose your password here (the link works for {users.INVITATION_DAYS} days, once):\n"
                    f"{link}\n\nIf you did not expect this, ignore this mail.\n")
    conn = mailer.Connection(mailer.parse(settings.smtp_url), settings.smtp_timeout_seconds)
    try:
        await conn.send(msg)
    except (mailer.ServerFailed, mailer.MessageRefused) as exc:
        log.warning("invitation mail to %s not sent: %s", to, exc)
        return f"The email to {to} could not be sent ({exc}): pass the link on yourself."
    finally:
        await conn.close()
    return f"An email with this link was sent to {to}."


async def _person_action(request: Request, seen: Viewer, user_id: str, what: str,
                         act: Callable[[AsyncSession], Awaitable[Any]]) -> Response:
    """Change one of the partner's people; a refusal (the last owner: 403) is shown on its row."""
    try:
        user = await _run(request, act)
    except DayledgerError as exc:
        if exc.status == 404:
            raise
        return await _users_page(request, seen, errors={user_id: _problem(exc)}, status=exc.status)
    if user.id == seen.user.id and what == "removed":
        return redirect("/login", "You removed yourself from the account.")
    return redirect("/dashboard/users", f"{user.email} {what}.")


@router.post("/dashboard/users/{user_id}/role")
@page_route
async def user_role(request: Request, user_id: str) -> Response:
    seen = await partner_viewer(request)
    role = (await _posted(request, seen)).get("role", "")

    async def fn(session: AsyncSession) -> Any:
        await partners.for_principal(session, seen.principal, _partner(seen).name)
        return await users.set_role(session, _partner(seen).id, user_id, role)
    return await _person_action(request, seen, user_id, f"is now {role}", fn)


@router.post("/dashboard/users/{user_id}/remove")
@page_route
async def user_remove(request: Request, user_id: str) -> Response:
    seen = await partner_viewer(request)
    await _posted(request, seen)
    now = _now(request)

    async def fn(session: AsyncSession) -> Any:
        await partners.for_principal(session, seen.principal, _partner(seen).name)
        return await users.remove(session, _partner(seen).id, user_id, now)
    return await _person_action(request, seen, user_id, "removed", fn)


# --- settings ------------------------------------------------------------------------------------------

BILLING_FIELDS = {"company": ("company", "Company"), "address": ("address", "Address"), "taxId": ("tax_id", "Tax ID"),
                  "email": ("billing_email", "Billing email")}
NOTICE_FIELDS = {"expiringNoticeDays": ("expiring", "Expiring notice"), "runwayNoticeDays": ("runway", "Runway notice"),
                 "emailEvents": ("email_events", "Emailed events")}


async def _settings_page(request: Request, seen: Viewer, *, errors: dict[str, str] | None = None,
                         values: dict[str, Any] | None = None, status: int = 200) -> Response:
    async def fn(session: AsyncSession) -> dict[str, Any]:
        partner = await partners.for_principal(session, seen.principal, _partner(seen).name)
        return {"billing": BillingDetailsReply.of(partner.billing_details), "notices": NoticeSettingsReply.of(partner),
                "timezone": partner.timezone, "days_limit": partner.days_limit}
    current = await _run(request, fn)
    n, b = current["notices"], current["billing"]
    shown: dict[str, Any] = {"company": b.company or "", "address": b.address or "", "tax_id": b.taxId or "",
             "billing_email": b.email or "", "timezone": current["timezone"], "days_limit": str(current["days_limit"]),
             "expiring": str(n.expiringNoticeDays),
             "runway": "" if n.runwayNoticeDays is None else str(n.runwayNoticeDays),
             "email_mode": "default" if n.emailEventsDefault else ("all" if ALL in n.emailEvents else "chosen"),
             "email_events": [] if n.emailEventsDefault or ALL in n.emailEvents else n.emailEvents}
    shown.update(values or {})
    return await show(request, seen, "dashboard/settings.html", "Settings", status=status, current=current,
                      values=shown, errors=errors or {}, timezones=TIMEZONES, event_types=EVENT_TYPES,
                      default_events=DEFAULT_EMAIL_EVENTS)


@router.get("/dashboard/settings")
@page_route
async def settings_page(request: Request) -> Response:
    return await _settings_page(request, await partner_viewer(request))


async def _settings_form(request: Request, seen: Viewer, values: dict[str, Any], done: str,
                         work: Callable[[], Callable[[AsyncSession], Awaitable[Any]]], field_of: Callable[[
                             DayledgerError], str]) -> Response:
    """Validate (``work`` builds the transaction's function, raising FieldError), run it, and
    answer the settings page again with the message next to its field, or go back to it."""
    try:
        await _run(request, work())
    except FieldError as exc:
        return await _settings_page(request, seen, errors={exc.field: exc.message}, values=values, status=422)
    except DayledgerError as exc:
        if exc.status == 404:
            raise
        return await _settings_page(request, seen, errors={field_of(exc): _problem(exc)}, values=values,
                                    status=exc.status)
    return redirect("/dashboard/settings", done)


@router.post("/dashboard/settings/billing")
@page_route
async def settings_billing(request: Request) -> Response:
    """The billing details on the partner's invoices (PUT /partners/{name}/billing-details)."""
    seen = await partner_viewer(request)
    form = await _posted(request, seen, "billing")
    values = {k: form.get(k, "").replace("\r\n", "\n").strip() for k in ("company", "address", "tax_id",
                                                                           "billing_email")}

    def work() -> Callable[[AsyncSession], Awaitable[Any]]:
        body = _model(BillingDetails, {"company": values["company"] or None, "address": values["address"] or None,
                                       "taxId": values["tax_id"] or None, "email": values["billing_email"] or None},
                      BILLING_FIELDS)

        async def fn(session: AsyncSession) -> Any:
            await invoices.partner_for(session, seen.principal, _partner(seen).name)
            return await invoices.set_partner_details(session, _partner(seen).name, body)
        return fn
    return await _settings_form(request, seen, values, "The billing details were saved.", work, lambda e: "company")


@router.post("/dashboard/settings/account")
@page_route
async def settings_account(request: Request) -> Response:
    """The time zone (the operator's partner update, its only partner-side caller) and the
    low-balance limit (PATCH /partners/{name}/settings days_limit: re-arms the days notice)."""
    seen = await partner_viewer(request)
    form = await _posted(request, seen)
    values = {"timezone": form.get("timezone", "").strip(), "days_limit": form.get("days_limit", "").strip()}

    def work() -> Callable[[AsyncSession], Awaitable[Any]]:
        zone = forms.text(form, "timezone", "Time zone", max_length=64)
        limit = forms.whole(form, "days_limit", "Low-balance alert", low=0, high=1_000_000)
        name = _partner(seen).name

        async def fn(session: AsyncSession) -> Any:
            await partners.for_principal(session, seen.principal, name)
            await partners.update(session, name, PartnerUpdate(timezone=zone))
            return await partners.update_settings(session, name, PartnerSettings(days_limit=limit))
        return fn
    return await _settings_form(request, seen, values, "The time zone and the low-balance alert were saved.", work,
                                lambda e: "timezone" if e.message == "unknown time zone" else "days_limit")


@router.post("/dashboard/settings/notices")
@page_route
async def settings_notices(request: Request) -> Response:
    """The notice settings (PUT /partners/{name}/notices: all three replaced)."""
    seen = await partner_viewer(request)
    form = await _posted(request, seen)
    mode = form.get("email_mode", "default")
    chosen = (await forms.read_lists(request)).get("email_events", [])
    values = {"expiring": form.get("expiring", "").strip(), "runway": form.get("runway", "").strip(),
              "email_mode": mode, "email_events": chosen}

    def work() -> Callable[[AsyncSession], Awaitable[Any]]:
        expiring = forms.whole(form, "expiring", "Expiring notice", low=1, high=30)
        runway = forms.whole(form, "runway", "Runway notice", low=1, high=365, required=False)
        if mode not in ("default", "all", "chosen"):
            raise FieldError("email_events", "Emailed events: choose the defaults, every event, or these events")
        emailed = None if mode == "default" else [ALL] if mode == "all" else chosen
        body = _model(NoticeSettingsBody, {"expiringNoticeDays": expiring, "runwayNoticeDays": runway,
                                           "emailEvents": emailed}, NOTICE_FIELDS)

        async def fn(session: AsyncSession) -> Any:
            partner = await notices.partner_for(session, seen.principal, _partner(seen).name, for_update=True)
            return await notices.set_notices(session, partner, body)
        return fn
    return await _settings_form(request, seen, values, "The notice settings were saved.", work,
                                lambda e: "email_events")
