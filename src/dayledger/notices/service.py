"""The partner's notice settings: how many days before its end a channel is
``channel.expiring``, the runway under which ``runway.low`` fires, and which event types
are mailed. Nothing here commits."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..auth.service import Principal
from ..models import Partner
from ..partners import service as partners
from .schemas import ALL, DEFAULT_EMAIL_EVENTS, NoticeSettingsBody


async def partner_for(session: AsyncSession, principal: Principal, name: str, *, for_update: bool = False) -> Partner:
    """The partner named in the path: the caller's own (another partner's name is 403), or
    any one for the operator."""
    if principal.kind != "operator":
        principal.require_partner(name)
    return await partners.get(session, name, for_update=for_update)


async def set_notices(session: AsyncSession, partner: Partner, body: NoticeSettingsBody) -> Partner:
    """Replace the three settings (``partner`` locked by the caller)."""
    partner.expiring_notice_days = body.expiringNoticeDays
    partner.runway_notice_days = body.runwayNoticeDays
    partner.email_notices = None if body.emailEvents is None else list(body.emailEvents)
    await session.flush()
    return partner


def mailed_types(email_notices: list | None) -> frozenset[str] | None:
    """The event types mailed to a partner with this setting; None: every type."""
    if email_notices is None:
        return frozenset(DEFAULT_EMAIL_EVENTS)
    if ALL in email_notices:
        return None
    return frozenset(email_notices)
