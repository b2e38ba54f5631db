"""Webhook endpoints (SPEC 7): a partner's (``/partners/{name}/webhooks``) hear its own
events, the operator's (``/admin/webhooks``) hear every partner's. The reference
settings' ``webhooks`` list is kept as endpoints too (``source: settings``), so both get
the same signed bodies. Sending is the worker's (delivery.py); nothing here commits."""

from __future__ import annotations

import secrets
import string
from typing import cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from ..config import Settings
from ..errors import Conflict, NotFound
from ..events import public_id
from ..models import Event, Partner, WebhookDelivery, WebhookEndpoint
from . import addresses, repository, signing
from .schemas import TEST_EVENT, EndpointCreate, EndpointUpdate

MAX_ENDPOINTS = 20  # per partner (and for the operator), besides the settings' list
_ALNUM = string.ascii_letters + string.digits


def new_id() -> str:
    return "we_" + "".join(secrets.choice(_ALNUM) for _ in range(20))


async def create(session: AsyncSession, partner: Partner | None, data: EndpointCreate, settings: Settings,
                 now_ms: int) -> WebhookEndpoint:
    """A new endpoint with a new signing secret (``partner`` None: the operator's)."""
    await addresses.check(data.url, settings.webhook_allow_private)
    partner_id = partner.id if partner else None
    api_owned = [e for e in await repository.endpoints(session, partner_id) if e.source == "api"]
    if len(api_owned) >= MAX_ENDPOINTS:
        raise Conflict("too many webhook endpoints", f"at most {MAX_ENDPOINTS}; delete one first")
    ep = WebhookEndpoint(id=new_id(), partner_id=partner_id, url=data.url, events=data.events,
                         description=data.description, secret=signing.new_secret(), enabled=True, source="api",
                         disabled_reason=None, created_ms=now_ms, updated_ms=now_ms)
    session.add(ep)
    await session.flush()
    return ep


async def get(session: AsyncSession, partner: Partner | None, endpoint_id: str, *,
              for_update: bool = False) -> WebhookEndpoint:
    ep = await repository.endpoint(session, endpoint_id, partner.id if partner else None, for_update=for_update)
    if ep is None:
        raise NotFound("webhook endpoint not found", f"no webhook endpoint '{endpoint_id}' here")
    return ep


def _settings_owned(ep: WebhookEndpoint, what: str) -> None:
    if ep.source == "settings":
        raise Conflict("endpoint kept by the settings",
                       f"this endpoint is the settings' webhooks list; {what} it through "
                       "PATCH /partners/{name}/settings")


async def update(session: AsyncSession, ep: WebhookEndpoint, data: EndpointUpdate, settings: Settings,
                 now_ms: int) -> WebhookEndpoint:
    if data.url is not None or data.events is not None:
        _settings_owned(ep, "change the URL or events of")
    if data.url is not None:
        await addresses.check(data.url, settings.webhook_allow_private)
        ep.url = data.url
    if data.events is not None:
        ep.events = data.events
    if data.description is not None:
        ep.description = data.description
    if data.enabled is not None:
        await set_enabled(session, ep, data.enabled, None if data.enabled else "disabled by hand", now_ms)
    ep.updated_ms = now_ms
    await session.flush()
    return ep


async def set_enabled(session: AsyncSession, ep: WebhookEndpoint, enabled: bool, reason: str | None,
                      now_ms: int) -> None:
    """Disabling parks the undelivered deliveries (``disabled``); enabling sends them, in
    order, with a new retry period."""
    if enabled == ep.enabled:
        return
    ep.enabled, ep.disabled_reason, ep.updated_ms = enabled, reason, now_ms
    await repository.set_waiting(session, ep.id, frm="disabled" if enabled else "pending",
                                 to="pending" if enabled else "disabled", now_ms=now_ms)


async def delete(session: AsyncSession, ep: WebhookEndpoint) -> None:
    _settings_owned(ep, "remove")
    await repository.remove(session, ep.id)


async def rotate_secret(session: AsyncSession, ep: WebhookEndpoint, now_ms: int) -> str:
    ep.secret, ep.updated_ms = signing.new_secret(), now_ms
    await session.flush()
    return ep.secret


_EVENT_INSERT = cast(Table, Event.__table__).insert().returning(Event.__table__.c.id)
_DELIVERY_INSERT = cast(Table, WebhookDelivery.__table__).insert().returning(WebhookDelivery.__table__.c.id)


async def queue_test(session: AsyncSession, ep: WebhookEndpoint, now_ms: int) -> tuple[int, str]:
    """A ``webhook.test`` event for this endpoint only (the fan-out and the email skip it);
    the worker sends it like any other. Returns the delivery id and the event id."""
    if not ep.enabled:
        raise Conflict("endpoint disabled", "enable it (PATCH enabled: true) before sending a test")
    event_id = (await session.execute(_EVENT_INSERT, {
        "partner_id": ep.partner_id or "", "type": TEST_EVENT, "channel_id": None,
        "payload": {"endpointId": ep.id, "message": "a test event sent from dayledger"},
        "created_ms": now_ms, "webhooks_ms": now_ms, "emailed_ms": now_ms})).scalar_one()
    delivery_id = (await session.execute(_DELIVERY_INSERT, {
        "endpoint_id": ep.id, "event_id": event_id, "status": "pending", "attempts": 0,
        "next_attempt_ms": now_ms, "created_ms": now_ms})).scalar_one()
    return delivery_id, public_id(event_id)


async def resend(session: AsyncSession, ep: WebhookEndpoint, delivery_id: int, now_ms: int) -> WebhookDelivery:
    """Send a delivery again, now, with its ``webhook-id``: it goes before the endpoint's
    later deliveries (they wait for it), with a new retry period."""
    d = await repository.delivery(session, ep.id, delivery_id, for_update=True)
    if d is None:
        raise NotFound("delivery not found", f"no delivery {delivery_id} for webhook endpoint '{ep.id}'")
    if not ep.enabled:
        raise Conflict("endpoint disabled", "enable it (PATCH enabled: true) before resending")
    d.status, d.next_attempt_ms, d.created_ms = "pending", now_ms, now_ms
    await session.flush()
    return d


async def sync_settings(session: AsyncSession, partner: Partner, hooks: list[dict], settings: Settings,
                        now_ms: int) -> None:
    """Keep the settings' ``webhooks`` list as endpoints: an unchanged URL keeps its
    endpoint (secret, log), a new one gets an endpoint, a dropped one loses it. Mode
    ``path`` sends to the URL with the event type appended (``…/days``)."""
    wanted: dict[str, list[str]] = {}
    for hook in hooks:
        url = hook["url"].rstrip("/") + "/days" if hook.get("mode") == "path" else hook["url"]
        await addresses.check(url, settings.webhook_allow_private)
        types = wanted.setdefault(url, [])
        types.extend(t for t in (e.get("type", "days") for e in hook.get("events") or [{}]) if t not in types)
    for ep in await repository.endpoints(session, partner.id):
        if ep.source != "settings":
            continue
        if ep.url in wanted:
            ep.events, ep.updated_ms = wanted.pop(ep.url), now_ms
        else:
            await repository.remove(session, ep.id)
    for url, types in wanted.items():
        session.add(WebhookEndpoint(id=new_id(), partner_id=partner.id, url=url, events=types, description="",
                                    secret=signing.new_secret(), enabled=True, source="settings",
                                    disabled_reason=None, created_ms=now_ms, updated_ms=now_ms))
    await session.flush()
