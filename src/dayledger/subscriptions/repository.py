"""Queries of channel subscriptions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..ledger.channel_time import SANDBOX_MODES
from ..models import Channel, Subscription

OPEN = ("pending", "active", "canceling")


async def newest(session: AsyncSession, partner_id: str, channel_id: str, *, open_only: bool = False,
                 for_update: bool = False) -> Subscription | None:
    stmt = (select(Subscription).where(Subscription.partner_id == partner_id, Subscription.channel_id == channel_id)
            .order_by(Subscription.created_ms.desc(), Subscription.id.desc()).limit(1))
    if open_only:
        stmt = stmt.where(Subscription.status.in_(OPEN))
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def by_id(session: AsyncSession, subscription_id: str) -> Subscription | None:
    stmt = select(Subscription).where(Subscription.id == subscription_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def by_stripe_id(session: AsyncSession, stripe_id: str) -> Subscription | None:
    stmt = select(Subscription).where(Subscription.stripe_subscription == stripe_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def orphaned(session: AsyncSession, limit: int) -> list[Subscription]:
    """Running subscriptions whose channel was deleted or became a sandbox since: Stripe
    would charge for periods no channel can take."""
    stmt = (select(Subscription).join(Channel, Channel.id == Subscription.channel_id)
            .where(Subscription.status == "active", Subscription.stripe_subscription.is_not(None),
                   (Channel.deleted_ms.is_not(None)) | (Channel.mode.in_(SANDBOX_MODES)))
            .order_by(Subscription.id).limit(limit))
    return list((await session.execute(stmt)).scalars().all())
