"""What every dashboard page shows (the balance and the runway in the header) and the
overview's pieces: channels expiring soon and the balance over time. Read-only queries;
nothing here imports the web framework."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..clock import DAY_MS
from ..models import Channel, LedgerEntry, Partner
from ..partners import views as partner_views
from ..partners.schemas import PartnerProfile


@dataclass
class Summary:
    profile: PartnerProfile

    @property
    def balance(self) -> int:
        return self.profile.balance

    @property
    def runway_text(self) -> str:
        r = self.profile.runwayDays
        if r is None:
            return "nothing burns"
        return f"{r:,} day{'s' if r != 1 else ''}" + (f" (until {self.profile.runwayUntil})"
                                                      if self.profile.runwayUntil else "")


async def summary(session: AsyncSession, partner: Partner, now_ms: int) -> Summary:
    return Summary(await partner_views.profile(session, partner, now_ms))


async def expiring_soon(session: AsyncSession, partner: Partner, now_ms: int, limit: int = 20) -> list[Channel]:
    """Running trial and live channels whose time ends within the partner's notice days."""
    horizon = now_ms + max(partner.expiring_notice_days, 1) * DAY_MS
    stmt = (select(Channel).where(Channel.partner_id == partner.id, Channel.deleted_ms.is_(None),
                                  Channel.stopped.is_(False), Channel.expired.is_(False),
                                  Channel.mode.in_(("trial", "live")), Channel.active_till_ms > now_ms,
                                  Channel.active_till_ms <= horizon)
            .order_by(Channel.active_till_ms).limit(limit))
    return list((await session.execute(stmt)).scalars())


@dataclass
class Chart:
    """A step line of the balance over time, in SVG coordinates of a width × height box."""
    width: int
    height: int
    path: str
    points: int
    low: int
    high: int
    start_ms: int
    end_ms: int


async def balance_chart(session: AsyncSession, partner: Partner, now_ms: int, days: int = 90,
                        width: int = 720, height: int = 180) -> Chart:
    """The balance after each ledger entry of the last ``days`` days, drawn as steps from the
    balance before the first one to now (no script: the page draws the SVG as it is)."""
    start = now_ms - days * DAY_MS
    rows = (await session.execute(
        select(LedgerEntry.created_ms, LedgerEntry.balance_after).where(
            LedgerEntry.partner_id == partner.id, LedgerEntry.created_ms >= start)
        .order_by(LedgerEntry.id).limit(5000))).all()
    before = (await session.execute(
        select(LedgerEntry.balance_after).where(LedgerEntry.partner_id == partner.id,
                                                LedgerEntry.created_ms < start)
        .order_by(LedgerEntry.id.desc()).limit(1))).scalar()
    values: list[tuple[int, int]] = [(start, int(before or 0))] + [(int(t), int(b)) for t, b in rows]
    values.append((now_ms, partner.balance))
    low, high = min(v for _, v in values), max(v for _, v in values)
    span = max(high - low, 1)

    def x(t: int) -> float:
        return round((t - start) / max(now_ms - start, 1) * width, 1)

    def y(v: int) -> float:
        return round(height - 10 - (v - low) / span * (height - 20), 1)
    parts: list[Any] = [f"M{x(values[0][0])},{y(values[0][1])}"]
    for t, v in values[1:]:
        parts.append(f"H{x(t)}V{y(v)}")
    return Chart(width, height, "".join(parts), len(rows), low, high, start, now_ms)
