"""The dashboard's channel pages and billing history (issue 10): the channel table (search,
filters, paging, CSV, Add channel), one channel's page (Extend, Mode, Stop/Start, Restart,
Delete with the days that come back, the token, its statement, its auto-extend policy) and
the billing history (filters, paging, CSV).

Every form calls the service its API route calls (channels/endpoints.py,
autoextend/endpoints.py) as the signed-in user's ``Principal``: CSRF first (403), then the
role (a viewer: 403), then the service in one transaction; a refusal shows the form again
with the message next to the field, and nothing is changed."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from .. import idempotency
from ..api.paging import HistoryFilterParams
from ..autoextend import service as autoextend
from ..autoextend.schemas import PolicyBody, PolicyReply
from ..channels import service as channels
from ..channels import views as channel_views
from ..channels.schemas import ChannelCreate, ChannelReply, ExtendRequest, may_run
from ..errors import DayledgerError, Forbidden, NotFound, Unprocessable
from ..ids import CHANNEL_ID_PATTERN
from ..ledger import Op, unused_paid_days
from ..ledger.service import ENTRY_TYPES, TIME_ONLY
from ..models import Channel
from ..partners import service as partners
from ..partners import views as partner_views
from ..partners.schemas import HistoryEntry
from ..projects import service as projects
from ..web import forms
from ..web.forms import FieldError
from ..web.pages import page_route, redirect
from ..web.session import Viewer, check_csrf, services
from .common import partner_viewer, show

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
STATEMENT_SIZE = 20
MODES = {"trial": "Trial", "live": "Live", "dev": "Sandbox", "dev_archive": "Sandbox, archived"}
STATES = ("running", "stopped", "expired")
HISTORY_TYPES = sorted(ENTRY_TYPES - TIME_ONLY) + sorted(TIME_ONLY)
_CHANNEL_ID = re.compile(CHANNEL_ID_PATTERN)


# ---- small helpers -------------------------------------------------------------------

def _number(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name, "")
    return min(max(int(raw), low), high) if raw.isdigit() else default


def _message(exc: DayledgerError) -> str:
    return exc.message + (f": {exc.details}" if exc.details else "")


def _checked(model: type[BaseModel], names: dict[str, str], default: str, **data: Any) -> Any:
    """``model(**data)``, or a FieldError for the form's field (``names``: the model's field
    → the form's field; a rule over several fields goes to ``default``)."""
    try:
        return model(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = str(first["loc"][0]) if first["loc"] else ""
        text = str(first["msg"]).removeprefix("Value error, ")
        raise FieldError(names.get(where, default), text[:1].upper() + text[1:]) from exc


def _may_change(seen: Viewer) -> None:
    """The role may change channels (owner, member; not a viewer, nor a suspended partner)."""
    if not seen.can("channels"):
        raise Forbidden("not allowed", "your role may read this partner's channels but not change them")


def _query(**params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "", 0)}
    return ("?" + urlencode(kept)) if kept else ""


@dataclass
class Pager:
    offset: int
    count: int
    total: int
    shown: int
    base: str
    params: dict[str, Any]

    @property
    def first(self) -> int:
        return self.offset + 1 if self.shown else 0

    @property
    def last(self) -> int:
        return self.offset + self.shown

    @property
    def previous(self) -> str | None:
        if self.offset <= 0:
            return None
        return self.base + _query(**self.params, offset=max(self.offset - self.count, 0))

    @property
    def next(self) -> str | None:
        if self.offset + self.count >= self.total:
            return None
        return self.base + _query(**self.params, offset=self.offset + self.count)


def state_of(ch: Channel, now_ms: int) -> str:
    """running, stopped or expired: the list filter's states (channels/repository.filtered)."""
    if ch.expired:
        return "expired"
    return "running" if may_run(ch, now_ms) else "stopped"


@dataclass
class Row:
    channel: ChannelReply
    state: str


# ---- the channel table ---------------------------------------------------------------

@dataclass
class ListFilters:
    q: str = ""
    mode: str = ""
    state: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def as_kwargs(self) -> dict[str, Any]:
        return {"q": self.q or None, "mode": self.mode or None, "state": self.state or None}

    def params(self) -> dict[str, Any]:
        return {"q": self.q, "mode": self.mode, "state": self.state}


def list_filters(request: Request) -> ListFilters:
    """The table's filters from the query; a wrong one is named and not applied."""
    got = ListFilters(q=request.query_params.get("q", "").strip(), mode=request.query_params.get("mode", ""),
                      state=request.query_params.get("state", ""))
    if len(got.q) > 200 or "\x00" in got.q:
        got.errors["q"], got.q = "Search must be at most 200 characters", ""
    if got.mode and got.mode not in MODES:
        got.errors["mode"], got.mode = "Choose a mode from the list", ""
    if got.state and got.state not in STATES:
        got.errors["state"], got.state = "Choose a status from the list", ""
    return got


async def _list_page(request: Request, seen: Viewer, *, status: int = 200, errors: dict[str, str] | None = None,
                     values: dict[str, str] | None = None) -> Response:
    svc = services(request)
    filters = list_filters(request)
    offset = _number(request, "offset", 0, 0, 10**9)
    count = _number(request, "count", PAGE_SIZE, 1, 500)
    partner_id = seen.principal.require_partner()

    async def fn(session: AsyncSession) -> dict[str, Any]:
        now = svc.clock.now_ms()
        rows, total, tz = await channels.list_page(session, partner_id, count, offset, now, **filters.as_kwargs())
        found, _ = await projects.page(session, partner_id, 500, 0)
        return {"rows": [Row(ChannelReply.of(ch, now, tz), state_of(ch, now)) for ch in rows], "total": total,
                "projects": found}
    data = await svc.db.run(fn)
    pager = Pager(offset, count, data["total"], len(data["rows"]), "/dashboard/channels", filters.params())
    return await show(request, seen, "dashboard/channels.html", "Channels", status=status,
                      rows=data["rows"], pager=pager, filters=filters, projects=data["projects"], modes=MODES,
                      states=STATES, csv_url="/dashboard/channels.csv" + _query(**filters.params()),
                      can_change=seen.can("channels"), errors=errors or {}, values=values or {}, once=once_token())


@router.get("/dashboard/channels")
@page_route
async def channel_list(request: Request) -> Response:
    seen = await partner_viewer(request)
    return await _list_page(request, seen)


@router.get("/dashboard/channels.csv")
@page_route
async def channel_csv(request: Request) -> Response:
    """The API's export (GET /channels/export.csv) with the table's filters, streamed."""
    seen = await partner_viewer(request)
    filters = list_filters(request)
    if filters.errors:
        raise Unprocessable("wrong filter", "; ".join(filters.errors.values()))
    svc = services(request)
    partner_id = seen.principal.require_partner()

    async def fn(session: AsyncSession) -> ZoneInfo:
        return await channels.timezone_of(session, partner_id)
    tz = await svc.db.run(fn)
    return channel_views.export_csv(svc.db, partner_id, tz, svc.clock.now_ms(), **filters.as_kwargs())


@router.post("/dashboard/channels")
@page_route
async def add_channel(request: Request) -> Response:
    """Add channel: PUT /channels (channels.service.create)."""
    seen = await partner_viewer(request)
    form = await forms.read(request)
    check_csrf(form.get("csrf"), seen.csrf)
    _may_change(seen)
    svc = services(request)
    partner_id = seen.principal.require_partner()

    path = request.url.path

    async def fn(session: AsyncSession) -> tuple[str, str]:
        sent = await _sent_before(session, seen, form, path)
        if sent and sent[1]:
            done = json.loads(sent[1])  # the same form again: the channel was added once
            return done["to"], done["flash"]
        name = forms.text(form, "name", "Name", max_length=200)
        project = forms.text(form, "project", "Project", max_length=100)
        body = _checked(ChannelCreate, {"name": "name", "projectId": "project"}, "name", name=name, projectId=project)
        op = Op(svc.clock.now_ms(), seen.principal.actor, sent[0] if sent else None)
        ch = (await channels.create(session, partner_id, body, svc.settings, op)).channel
        to, flash = f"/dashboard/channels/{ch.id}", f"Channel {ch.name} ({ch.id}) added."
        if sent:
            await _remember(session, seen, form, path, sent[0], json.dumps({"to": to, "flash": flash}), op.now)
        return to, flash
    try:
        to, flash = await svc.db.run(fn)
    except FieldError as exc:
        return await _list_page(request, seen, status=422, errors={exc.field: exc.message}, values=form)
    except DayledgerError as exc:
        where = "project" if isinstance(exc, NotFound) else "add"
        return await _list_page(request, seen, status=exc.status, errors={where: _message(exc)}, values=form)
    return redirect(to, flash)


# ---- one channel ---------------------------------------------------------------------

async def _channel_data(session: AsyncSession, partner_id: str, channel_id: str, now: int,
                        statement_offset: int) -> dict[str, Any]:
    shown = await channels.show(session, partner_id, channel_id)
    ch = shown.channel
    project = await projects.get(session, partner_id, ch.project_id)
    try:
        applied = await autoextend.for_channel(session, partner_id, ch.id)
        policy: PolicyReply | None = PolicyReply.of(applied.policy, now, cycles=applied.cycles)
    except NotFound:
        policy = None
    entries, total = await partners.history(session, partner_id, STATEMENT_SIZE, statement_offset, channel_id=ch.id)
    return {"channel": ChannelReply.of(ch, now, shown.tz), "state": state_of(ch, now), "project": project,
            "policy": policy,
            # What DELETE (and a stop that saves its days) returns now: the rule refund_unused applies.
            "refundable": unused_paid_days(ch, now),
            "statement": [HistoryEntry.of(e) for e in entries], "statement_total": total}


def _policy_values(policy: PolicyReply | None) -> dict[str, str]:
    if policy is None:
        return {"below_days": "3", "extend_days": "30", "until": "", "budget_days": ""}
    return {"below_days": str(policy.belowDays), "extend_days": str(policy.extendDays), "until": policy.until or "",
            "budget_days": "" if policy.budgetDays is None else str(policy.budgetDays),
            "paused": "on" if policy.paused else ""}


async def _channel_page(request: Request, seen: Viewer, channel_id: str, *, status: int = 200,
                        errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
                        token: str | None = None) -> Response:
    svc = services(request)
    partner_id = seen.principal.require_partner()
    offset = _number(request, "offset", 0, 0, 10**9)

    async def fn(session: AsyncSession) -> dict[str, Any]:
        return await _channel_data(session, partner_id, channel_id, svc.clock.now_ms(), offset)
    data = await svc.db.run(fn)
    ch: ChannelReply = data["channel"]
    shown_values = {**_policy_values(data["policy"]), "mode": ch.mode, **(values or {})}
    pager = Pager(offset, STATEMENT_SIZE, data.pop("statement_total"), len(data["statement"]),
                  f"/dashboard/channels/{ch.id}", {})
    return await show(request, seen, "dashboard/channel.html", f"Channel {ch.name}", status=status, **data,
                      pager=pager, modes=MODES, errors=errors or {}, values=shown_values, token=token,
                      once=once_token(), can_change=seen.can("channels"), can_reveal=_may_reveal(seen))


def _may_reveal(seen: Viewer) -> bool:
    try:
        seen.principal.require("channels")
    except DayledgerError:
        return False
    return True


@router.get("/dashboard/channels/{channel_id}")
@page_route
async def channel_page(request: Request, channel_id: str) -> Response:
    seen = await partner_viewer(request)
    return await _channel_page(request, seen, channel_id)


Work = Callable[[AsyncSession, dict[str, str], str, Op], Awaitable[str]]
ONCE_PREFIX = "web:"


def once_token() -> str:
    """The hidden ``once`` field of a form that moves days or makes a channel: sent twice
    (a double click, a repeated post), it is done once (the API's Idempotency-Key store)."""
    return secrets.token_urlsafe(18)


async def _sent_before(session: AsyncSession, seen: Viewer, form: dict[str, str], path: str) -> tuple[str, str] | None:
    """None for a form without ``once``; else (the key, its stored message or "")."""
    once = form.get("once", "")
    if not once:
        return None
    key = ONCE_PREFIX + once[:200]
    body = json.dumps({k: v for k, v in form.items() if k != "csrf"}, sort_keys=True).encode()
    scope = seen.principal.idempotency_scope
    await idempotency.lock_key(session, scope, key)  # PostgreSQL: 409 while the first is at work
    found = await idempotency.find(session, scope, key, idempotency.request_hash("POST", path, "", body))
    return key, (found[1] if found else "")


async def _remember(session: AsyncSession, seen: Viewer, form: dict[str, str], path: str, key: str, message: str,
                    now_ms: int) -> None:
    body = json.dumps({k: v for k, v in form.items() if k != "csrf"}, sort_keys=True).encode()
    await idempotency.store(session, seen.principal.idempotency_scope, key,
                            idempotency.request_hash("POST", path, "", body), 303, message, now_ms)


async def _act(request: Request, channel_id: str, work: Work, where: Callable[[DayledgerError], str],
               done_url: str | None = None) -> Response:
    """A channel form: CSRF, the role, then ``work`` (parses the form and calls the service;
    returns the message to show) in one transaction. A refusal shows the page again with
    the message next to the field (``where``); nothing is changed."""
    seen = await partner_viewer(request)
    form = await forms.read(request)
    check_csrf(form.get("csrf"), seen.csrf)
    _may_change(seen)
    svc = services(request)
    partner_id = seen.principal.require_partner()

    path = request.url.path

    async def fn(session: AsyncSession) -> str:
        sent = await _sent_before(session, seen, form, path)
        if sent and sent[1]:
            return sent[1]  # the same form again: done once already, its message shown again
        op = Op(svc.clock.now_ms(), seen.principal.actor, sent[0] if sent else None)
        message = await work(session, form, partner_id, op)
        if sent:
            await _remember(session, seen, form, path, sent[0], message, op.now)
        return message
    try:
        message = await svc.db.run(fn)
    except FieldError as exc:
        return await _channel_page(request, seen, channel_id, status=422, errors={exc.field: exc.message},
                                   values=form)
    except DayledgerError as exc:
        if isinstance(exc, NotFound) and exc.message == "channel not found":
            raise
        return await _channel_page(request, seen, channel_id, status=exc.status, errors={where(exc): _message(exc)},
                                   values=form)
    return redirect(done_url or f"/dashboard/channels/{channel_id}", message)


@router.post("/dashboard/channels/{channel_id}/extend")
@page_route
async def extend(request: Request, channel_id: str) -> Response:
    """Extend: POST /channels/{id}/extend (channels.service.extend)."""
    async def work(session: AsyncSession, form: dict[str, str], partner_id: str, op: Op) -> str:
        days = forms.whole(form, "days", "Days")
        comment = forms.text(form, "comment", "Comment")
        body = _checked(ExtendRequest, {"days": "days", "comment": "comment"}, "days", days=days, comment=comment)
        done = await channels.extend(session, partner_id, channel_id, body, op)
        return (f"Extended by {done.days:,} day{'s' if done.days != 1 else ''}; "
                f"{done.posted.balance_after:,} days left on the balance.")
    return await _act(request, channel_id, work, lambda exc: "days" if exc.status == 402 else "extend")


@router.post("/dashboard/channels/{channel_id}/mode")
@page_route
async def change_mode(request: Request, channel_id: str) -> Response:
    """Mode: PATCH /channels/{id}/mode (channels.service.change_mode)."""
    async def work(session: AsyncSession, form: dict[str, str], partner_id: str, op: Op) -> str:
        mode = form.get("mode", "")
        if mode not in MODES:
            raise FieldError("mode", "Choose a mode from the list")
        done = await channels.change_mode(session, partner_id, channel_id, mode, op)
        back = f"; {done.days_returned:,} unused paid days returned to the balance" if done.days_returned else ""
        return f"Mode is {MODES[done.channel.mode]}{back}."
    return await _act(request, channel_id, work, lambda exc: "mode")


@router.post("/dashboard/channels/{channel_id}/stop")
@page_route
async def stop(request: Request, channel_id: str) -> Response:
    """Stop: POST /channels/{id}/stop (channels.service.stop), saveDays from the checkbox."""
    async def work(session: AsyncSession, form: dict[str, str], partner_id: str, op: Op) -> str:
        done = await channels.stop(session, partner_id, channel_id, form.get("save_days") == "on", op)
        back = f"; {done.days_returned:,} unused paid days returned to the balance" if done.days_returned else ""
        return f"Channel stopped{back}."
    return await _act(request, channel_id, work, lambda exc: "stop")


@router.post("/dashboard/channels/{channel_id}/start")
@page_route
async def start(request: Request, channel_id: str) -> Response:
    """Start: POST /channels/{id}/start (channels.service.start)."""
    async def work(session: AsyncSession, form: dict[str, str], partner_id: str, op: Op) -> str:
        await channels.start(session, partner_id, channel_id, op)
        return "Channel started."
    return await _act(request, channel_id, work, lambda exc: "start")


@router.post("/dashboard/channels/{channel_id}/restart")
@page_route
async def restart(request: Request, channel_id: str) -> Response:
    """Restart: POST /channels/{id}/restart (channels.service.restart)."""
    async def work(session: AsyncSession, form: dict[str, str], partner_id: str, op: Op) -> str:
        await channels.restart(session, partner_id, channel_id, op)
        return "Restart requested."
    return await _act(request, channel_id, work, lambda exc: "start")


@router.get("/dashboard/channels/{channel_id}/delete")
@page_route
async def delete_preview(request: Request, channel_id: str) -> Response:
    """What deleting returns, before the confirmation (the rule the delete applies)."""
    seen = await partner_viewer(request)
    _may_change(seen)
    svc = services(request)
    partner_id = seen.principal.require_partner()

    async def fn(session: AsyncSession) -> dict[str, Any]:
        now = svc.clock.now_ms()
        shown = await channels.show(session, partner_id, channel_id)
        return {"channel": ChannelReply.of(shown.channel, now, shown.tz),
                "refundable": unused_paid_days(shown.channel, now)}
    data = await svc.db.run(fn)
    return await show(request, seen, "dashboard/channels_delete.html", f"Delete channel {data['channel'].name}",
                      **data)


@router.post("/dashboard/channels/{channel_id}/delete")
@page_route
async def delete(request: Request, channel_id: str) -> Response:
    """Delete: DELETE /channels/{id} (channels.service.delete)."""
    async def work(session: AsyncSession, form: dict[str, str], partner_id: str, op: Op) -> str:
        done = await channels.delete(session, partner_id, channel_id, op)
        return (f"Channel {done.channel.name} ({done.channel.id}) deleted; {done.days_returned:,} "
                f"day{'s' if done.days_returned != 1 else ''} returned to the balance.")
    return await _act(request, channel_id, work, lambda exc: "delete", done_url="/dashboard/channels")


@router.post("/dashboard/channels/{channel_id}/token")
@page_route
async def reveal_token(request: Request, channel_id: str) -> Response:
    """The channel's token (GET /channels/{id} shows it), to owners and members only."""
    seen = await partner_viewer(request)
    form = await forms.read(request)
    check_csrf(form.get("csrf"), seen.csrf)
    if not _may_reveal(seen):
        raise Forbidden("not allowed", "only owners and members may see a channel's token")
    svc = services(request)
    partner_id = seen.principal.require_partner()

    async def fn(session: AsyncSession) -> str:
        return (await channels.show(session, partner_id, channel_id)).channel.token
    token = await svc.db.run(fn)
    return await _channel_page(request, seen, channel_id, token=token)


# ---- the channel's auto-extend policy -------------------------------------------------

POLICY_FIELDS = {"belowDays": "below_days", "extendDays": "extend_days", "until": "until",
                 "budgetDays": "budget_days", "paused": "paused"}


def policy_body(form: dict[str, str]) -> PolicyBody:
    below = forms.whole(form, "below_days", "Extend when fewer days are left than")
    extend_days = forms.whole(form, "extend_days", "Days to add each time")
    until = forms.text(form, "until", "Last date", required=False, max_length=10) or None
    if until is not None:
        try:
            date.fromisoformat(until)
        except ValueError:
            raise FieldError("until", "Last date must be a date (YYYY-MM-DD)") from None
    budget = forms.whole(form, "budget_days", "Budget", required=False)
    body: PolicyBody = _checked(PolicyBody, POLICY_FIELDS, "budget_days", belowDays=below, extendDays=extend_days,
                                until=until, budgetDays=budget, paused=form.get("paused") == "on")
    return body


@router.post("/dashboard/channels/{channel_id}/autoextend")
@page_route
async def set_policy(request: Request, channel_id: str) -> Response:
    """Save: PUT /channels/{id}/autoextend (autoextend.service.set_for_channel)."""
    async def work(session: AsyncSession, form: dict[str, str], partner_id: str, op: Op) -> str:
        policy = await autoextend.set_for_channel(session, partner_id, channel_id, policy_body(form), op.now)
        return f"Auto-extend policy saved ({'paused' if policy.paused else 'active'})."
    return await _act(request, channel_id, work, lambda exc: "policy")


@router.post("/dashboard/channels/{channel_id}/autoextend/pause")
@page_route
async def pause_policy(request: Request, channel_id: str) -> Response:
    """Pause or resume the channel's own policy: PUT /channels/{id}/autoextend with its
    settings and ``paused`` changed (the id and spent days stay)."""
    async def work(session: AsyncSession, form: dict[str, str], partner_id: str, op: Op) -> str:
        applied = await autoextend.for_channel(session, partner_id, channel_id)
        p = PolicyReply.of(applied.policy, op.now)
        if p.scope != "channel":
            raise FieldError("policy", "The project's default applies: save a policy of this channel to pause it")
        paused = form.get("paused") == "on"
        body = PolicyBody(belowDays=p.belowDays, extendDays=p.extendDays, until=p.until, budgetDays=p.budgetDays,
                          paused=paused)
        await autoextend.set_for_channel(session, partner_id, channel_id, body, op.now)
        return "Auto-extend policy paused." if paused else "Auto-extend policy resumed."
    return await _act(request, channel_id, work, lambda exc: "policy")


@router.post("/dashboard/channels/{channel_id}/autoextend/delete")
@page_route
async def remove_policy(request: Request, channel_id: str) -> Response:
    """Remove: DELETE /channels/{id}/autoextend (autoextend.service.remove_for_channel)."""
    async def work(session: AsyncSession, form: dict[str, str], partner_id: str, op: Op) -> str:
        await autoextend.remove_for_channel(session, partner_id, channel_id)
        return "Auto-extend policy removed."
    return await _act(request, channel_id, work, lambda exc: "policy")


# ---- billing history -----------------------------------------------------------------

@dataclass
class HistoryFilters:
    type: str = ""
    start: str = ""  # a date in the partner's zone, inclusive
    end: str = ""  # a date in the partner's zone, inclusive
    channel: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    since_ms: int | None = None
    until_ms: int | None = None

    def params(self) -> dict[str, Any]:
        return {"type": self.type, "from": self.start, "to": self.end, "channel": self.channel}

    def api(self) -> HistoryFilterParams:
        return HistoryFilterParams(type=self.type or None, since=self.since_ms, until=self.until_ms)


def _midnight(day_text: str, tz: str, field_name: str, label: str) -> tuple[date, int]:
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise FieldError(field_name, f"{label} must be a date (YYYY-MM-DD)") from None
    return day, int(datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).timestamp() * 1000)


def history_filters(request: Request, tz: str) -> HistoryFilters:
    """The history's filters; dates are whole days in the partner's zone. A wrong one is
    named (and the list is not shown, rather than shown unfiltered)."""
    q = request.query_params
    got = HistoryFilters(type=q.get("type", ""), start=q.get("from", "").strip(), end=q.get("to", "").strip(),
                         channel=q.get("channel", "").strip().upper())
    if got.type and got.type not in ENTRY_TYPES:
        got.errors["type"] = "Choose a type from the list"
    if got.channel and not _CHANNEL_ID.match(got.channel):
        got.errors["channel"] = "A channel id looks like ABCDEF-12345"
    for name, label, text in (("from", "From", got.start), ("to", "To", got.end)):
        if not text:
            continue
        try:
            day, ms = _midnight(text, tz, name, label)
        except FieldError as exc:
            got.errors[exc.field] = exc.message
            continue
        if name == "from":
            got.since_ms = ms
        else:
            got.until_ms = _midnight((day + timedelta(days=1)).isoformat(), tz, name, label)[1]
    if got.since_ms is not None and got.until_ms is not None and got.until_ms <= got.since_ms:
        got.errors["to"] = "To must not be before From"
    return got


@router.get("/dashboard/history")
@page_route
async def history(request: Request) -> Response:
    """Billing history: GET /partners/{name}/history (partners.service.history)."""
    seen = await partner_viewer(request)
    svc = services(request)
    filters = history_filters(request, seen.tz)
    offset = _number(request, "offset", 0, 0, 10**9)
    count = _number(request, "count", PAGE_SIZE, 1, 500)
    partner_id = seen.principal.require_partner()
    rows: list[HistoryEntry] = []
    total = 0
    if not filters.errors:
        async def fn(session: AsyncSession) -> tuple[list[HistoryEntry], int]:
            entries, n = await partners.history(session, partner_id, count, offset, channel_id=filters.channel or None,
                                                **filters.api().as_kwargs())
            return [HistoryEntry.of(e) for e in entries], n
        rows, total = await svc.db.run(fn)
    pager = Pager(offset, count, total, len(rows), "/dashboard/history", filters.params())
    return await show(request, seen, "dashboard/history.html", "Billing history",
                      status=422 if filters.errors else 200, rows=rows, pager=pager, filters=filters,
                      types=HISTORY_TYPES, csv_url="/dashboard/history.csv" + _query(**filters.params()))


@router.get("/dashboard/history.csv")
@page_route
async def history_csv(request: Request) -> Response:
    """GET /partners/{name}/history.csv with the page's filters, streamed."""
    seen = await partner_viewer(request)
    filters = history_filters(request, seen.tz)
    if filters.errors:
        raise Unprocessable("wrong filter", "; ".join(filters.errors.values()))
    assert seen.partner is not None
    return partner_views.history_csv(services(request).db, seen.principal.require_partner(), filters.api(),
                                     filters.channel or None, f"{seen.partner.name}-history.csv")
