"""Queries of webhook endpoints, deliveries and attempts."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import Event, Partner, WebhookAttempt, WebhookDelivery, WebhookEndpoint


async def endpoint(session: AsyncSession, endpoint_id: str, partner_id: str | None, *,
                   for_update: bool = False) -> WebhookEndpoint | None:
    """The endpoint if it belongs to ``partner_id`` (None: an operator's endpoint)."""
    owner = (WebhookEndpoint.partner_id.is_(None) if partner_id is None
             else WebhookEndpoint.partner_id == partner_id)
    query = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id, owner)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def endpoints(session: AsyncSession, partner_id: str | None) -> list[WebhookEndpoint]:
    owner = (WebhookEndpoint.partner_id.is_(None) if partner_id is None
             else WebhookEndpoint.partner_id == partner_id)
    query = select(WebhookEndpoint).where(owner).order_by(WebhookEndpoint.created_ms, WebhookEndpoint.id)
    return list((await session.execute(query)).scalars())


async def count(session: AsyncSession, partner_id: str | None) -> int:
    owner = (WebhookEndpoint.partner_id.is_(None) if partner_id is None
             else WebhookEndpoint.partner_id == partner_id)
    return int((await session.execute(select(func.count()).select_from(WebhookEndpoint).where(owner))).scalar_one())


async def remove(session: AsyncSession, endpoint_id: str) -> None:
    """The endpoint with its delivery log."""
    deliveries = select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint_id)
    await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
    await session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
    await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))


async def set_waiting(session: AsyncSession, endpoint_id: str, *, frm: str, to: str, now_ms: int) -> None:
    """Move the endpoint's undelivered deliveries between ``pending`` and ``disabled``;
    deliveries that wait again start a new retry period."""
    values: dict = {"status": to}
    if to == "pending":
        values.update(next_attempt_ms=now_ms, created_ms=now_ms)
    await session.execute(update(WebhookDelivery)
                          .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == frm)
                          .values(**values))


async def delivery_page(session: AsyncSession, endpoint_id: str, count: int, offset: int, status: str | None
                        ) -> tuple[list[tuple[WebhookDelivery, str, list[WebhookAttempt]]], int]:
    """Deliveries newest first, each with its event's type and its attempts (oldest first)."""
    where = [WebhookDelivery.endpoint_id == endpoint_id]
    if status:
        where.append(WebhookDelivery.status == status)
    total = int((await session.execute(select(func.count()).select_from(WebhookDelivery).where(*where))).scalar_one())
    rows = (await session.execute(
        select(WebhookDelivery, Event.type).join(Event, Event.id == WebhookDelivery.event_id)
        .where(*where).order_by(WebhookDelivery.id.desc()).limit(count).offset(offset))).all()
    log = await attempts(session, [d.id for d, _ in rows])
    return [(d, t, log.get(d.id, [])) for d, t in rows], total


async def attempts(session: AsyncSession, delivery_ids: list[int]) -> dict[int, list[WebhookAttempt]]:
    found: dict[int, list[WebhookAttempt]] = {}
    if delivery_ids:
        query = (select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(delivery_ids))
                 .order_by(WebhookAttempt.delivery_id, WebhookAttempt.id))
        for a in (await session.execute(query)).scalars():
            found.setdefault(a.delivery_id, []).append(a)
    return found


async def delivery(session: AsyncSession, endpoint_id: str, delivery_id: int, *, for_update: bool = False
                   ) -> WebhookDelivery | None:
    query = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                          WebhookDelivery.endpoint_id == endpoint_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def event_type(session: AsyncSession, event_id: int) -> str:
    return str((await session.execute(select(Event.type).where(Event.id == event_id))).scalar_one())


async def partner_names(session: AsyncSession, partner_ids: set[str]) -> dict[str, str]:
    if not partner_ids:
        return {}
    rows = await session.execute(select(Partner.id, Partner.name).where(Partner.id.in_(partner_ids)))
    return {pid: name for pid, name in rows.all()}
