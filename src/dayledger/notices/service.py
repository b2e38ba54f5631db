"""The partner's notice settings: how many days before its end a channel is
``channel.expiring``, the runway under which ``runway.low`` fires, and which event types
are mailed. Nothing here commits."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..events import EVENT_TYPES
from ..models import Partner
from ..partners import service as partners
from .schemas import ALL, DEFAULT_EMAIL_EVENTS, NoticeSettingsBody


partner_for = partners.for_principal  # the caller's own partner (403 for another's name), or any for the operator


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


# --- when a partner's events are mailed -------------------------------------------------------
#
# A partner's chosen events wait until one of them has waited its ``hold``; then every
# chosen event of that partner not yet handled goes in one digest. A mail takes all that
# was waiting, so the next one needs an event that arrived after it to wait its hold: at
# most one mail per partner in any HOLD_MS, or per URGENT_HOLD_MS while urgent events
# keep coming. Notices arriving within the hold (the expiring scan of many channels, a
# batch of expiries) share one mail.
HOLD_MS = 10 * 60_000
URGENT_HOLD_MS = 60_000
URGENT = frozenset({"days", "runway.low", "autorecharge.failed", "autoextend.failed"})
# Older events are not mailed: after an SMTP outage, a stopped worker or SMTP switched on,
# a day-old notice is stale (the webhooks still carry every event).
MAX_AGE_MS = 24 * 3_600_000
# Events in one digest at most (a partner with more gets the rest in the next one).
DIGEST_MAX_EVENTS = 10_000


def hold_ms(event_type: str) -> int:
    return URGENT_HOLD_MS if event_type in URGENT else HOLD_MS


def to_mail(event_type: str, created_ms: int, mailed: frozenset[str] | None, now_ms: int) -> bool:
    """Whether an event is to be mailed: a type of the catalogue the partner chose, not too old."""
    return ((event_type in mailed) if mailed is not None else (event_type in EVENT_TYPES)) \
        and created_ms >= now_ms - MAX_AGE_MS


def is_due(event_type: str, created_ms: int, now_ms: int) -> bool:
    return now_ms - created_ms >= hold_ms(event_type)
