"""What the console reads that no API route lists: recent events across partners, and the
webhook deliveries that are failing (pending after a failed attempt, or parked on a
disabled endpoint). Read only; resending goes through the webhooks service."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import paging
from ..events import public_id
from ..models import Event, Partner, User, WebhookDelivery, WebhookEndpoint
from ..webhooks import repository as webhooks


@dataclass(frozen=True)
class EventRow:
    id: str
    type: str
    partner: str | None
    channel_id: str | None
    created_ms: int
    summary: str


@dataclass(frozen=True)
class FailingRow:
    delivery_id: int
    endpoint_id: str
    url: str
    enabled: bool
    disabled_reason: str | None
    partner: str | None  # None: the operator's endpoint
    event_id: str
    event_type: str
    attempts: int
    last_attempt_ms: int | None
    next_attempt_ms: int | None
    status: str
    last_error: str


def summary(payload: Any, limit: int = 140) -> str:
    """The payload as one short line of ``key: value`` pairs."""
    if not isinstance(payload, dict):
        text = json.dumps(payload, separators=(",", ":"), default=str)
    else:
        text = ", ".join(f"{k}: {v if isinstance(v, str) else json.dumps(v, default=str)}"
                         for k, v in payload.items())
    return text if len(text) <= limit else text[:limit - 1] + "…"


async def events_page(session: AsyncSession, count: int, offset: int, *, type: str | None = None,
                      partner_id: str | None = None) -> tuple[list[EventRow], int]:
    """Events newest first, with their partner's name."""
    stmt = select(Event, Partner.name).outerjoin(Partner, Partner.id == Event.partner_id)
    if type:
        stmt = stmt.where(Event.type == type)
    if partner_id:
        stmt = stmt.where(Event.partner_id == partner_id)
    rows, total = await paging.page(session, stmt, count, offset, Event.id.desc(), scalars=False)
    return [EventRow(public_id(e.id), e.type, name, e.channel_id, e.created_ms, summary(e.payload))
            for e, name in rows], total


def _failing():
    return or_(and_(WebhookDelivery.status == "pending", WebhookDelivery.attempts > 0),
               WebhookDelivery.status == "disabled")


async def failing_deliveries(session: AsyncSession, count: int, offset: int) -> tuple[list[FailingRow], int]:
    """Deliveries pending after at least one failed attempt, or parked because their
    endpoint is disabled: newest first, each with its last attempt's outcome."""
    stmt = (select(WebhookDelivery, WebhookEndpoint, Event.type, Partner.name)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .join(Event, Event.id == WebhookDelivery.event_id)
            .outerjoin(Partner, Partner.id == WebhookEndpoint.partner_id)
            .where(_failing()))
    rows, total = await paging.page(session, stmt, count, offset, WebhookDelivery.id.desc(), scalars=False)
    log = await webhooks.attempts(session, [d.id for d, *_ in rows])
    out = []
    for d, ep, event_type, name in rows:
        tried = log.get(d.id) or []
        last = tried[-1] if tried else None
        if last is None:
            error = ""
        elif last.status_code is not None:
            error = f"HTTP {last.status_code}"
        else:
            error = last.error or "no answer"
        out.append(FailingRow(d.id, ep.id, ep.url, ep.enabled, ep.disabled_reason, name, public_id(d.event_id),
                              event_type, d.attempts, d.last_attempt_ms, d.next_attempt_ms, d.status, error))
    return out, total


async def endpoint_owner(session: AsyncSession, endpoint_id: str) -> tuple[bool, Partner | None]:
    """Whether the endpoint exists, and its partner (None: the operator's endpoint)."""
    ep = await session.get(WebhookEndpoint, endpoint_id)
    if ep is None:
        return False, None
    return True, (await session.get(Partner, ep.partner_id) if ep.partner_id else None)


async def user_emails(session: AsyncSession, user_ids: set[str]) -> dict[str, str]:
    """The emails of the people who made history entries (actor ``user:<id>``)."""
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
    return {uid: email for uid, email in rows.all()}
