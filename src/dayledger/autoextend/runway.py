"""The runway: how long the balance lasts at the current burn, and the ``runway.low``
notice (docs/decisions.md, "Runway").

The balance is spent only by extensions. Every running trial or live channel that will be
extended uses one day of time a day, and that day comes from the balance: by its policy
(K days every K days, whatever K and L: one a day on average) or by hand (a channel with
paid time is expected to be renewed). So the burn is the number of running trial or live
channels that have paid time or an active policy that applies to them (``burning``), in
days per day, and runwayDays = floor(balance ÷ burn); null when nothing burns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..clock import DAY_MS
from ..models import Partner
from . import repository


@dataclass(frozen=True)
class Runway:
    days: int | None  # whole days the balance lasts; None: nothing burns
    until: str | None  # the UTC date it runs out: now + days


def runway(balance: int, burn: int, now_ms: int) -> Runway:
    if burn <= 0:
        return Runway(None, None)
    days = balance // burn
    until = datetime.fromtimestamp((now_ms + days * DAY_MS) / 1000, tz=UTC).date().isoformat()
    return Runway(days, until)


async def _flip(session: AsyncSession, partner_id: str, alerted: bool) -> bool:
    """Set ``runway_alerted`` if it is not already so: True when this call changed it (a
    second worker's identical step finds it changed and does nothing)."""
    done = await session.execute(update(Partner).where(Partner.id == partner_id,
                                                       Partner.runway_alerted.is_(not alerted))
                                 .values(runway_alerted=alerted).returning(Partner.id))
    return done.scalar_one_or_none() is not None


async def check(session: AsyncSession, now_ms: int) -> int:
    """``runway.low`` once per fall below each partner's ``runway_notice_days`` (partners
    without one are not read, unless still alerted), re-armed when the runway is back at
    or above it, nothing burns, or the notice is turned off. Returns the notices and
    re-arms made."""
    partners = (await session.execute(
        select(Partner.id, Partner.balance, Partner.runway_notice_days, Partner.runway_alerted)
        .where(or_(Partner.runway_notice_days.is_not(None), Partner.runway_alerted.is_(True)))
        .order_by(Partner.id))).all()  # rows flipped in id order, the order every writer locks partners
    burn = await repository.burning(session, [p.id for p in partners], now_ms)
    changed = 0
    for p in partners:
        r = runway(p.balance, burn.get(p.id, 0), now_ms)
        low = r.days is not None and p.runway_notice_days is not None and r.days < p.runway_notice_days
        if low and not p.runway_alerted and await _flip(session, p.id, True):
            changed += 1
            await events.emit(session, partner_id=p.id, type="runway.low", now_ms=now_ms, payload={
                "runwayDays": r.days, "runwayUntil": r.until, "runwayNoticeDays": p.runway_notice_days,
                "balance": p.balance, "burnPerDay": burn.get(p.id, 0)})
        elif not low and p.runway_alerted and await _flip(session, p.id, False):
            changed += 1
    return changed
