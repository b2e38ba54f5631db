"""What the operator's channel runtime asks: may this channel token run, with which limits;
and what it reports: the channel's connection status and phone."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import NotFound
from ..models import Channel

# Trial and sandbox channels run with limits; live channels run without.
LIMITED = {"messagesPerDay": 150, "chatsPerMonth": 5, "apiRequestsPerMonth": 1000}
MODE_LIMITS = {"trial": LIMITED, "dev": LIMITED, "dev_archive": LIMITED, "live": None}


async def introspect(session: AsyncSession, token: str) -> Channel:
    ch = (await session.execute(
        select(Channel).where(Channel.token == token, Channel.deleted_ms.is_(None)))).scalar_one_or_none()
    if ch is None:
        raise NotFound("unknown channel token", "no live channel has this token")
    return ch


async def report_status(session: AsyncSession, channel_id: str, status: str, phone: str | None) -> Channel:
    ch = (await session.execute(select(Channel).where(Channel.id == channel_id, Channel.deleted_ms.is_(None))
                                .with_for_update())).scalar_one_or_none()
    if ch is None:
        raise NotFound("channel not found", f"no channel with id {channel_id}")
    ch.connection_status = status
    if phone is not None:
        ch.phone = phone or None
    await session.flush()
    return ch
