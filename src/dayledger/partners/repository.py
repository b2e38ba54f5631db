"""Queries for partners and their history."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import paging
from ..autoextend import repository as autoextend
from ..channels import repository as channels
from ..ledger.service import TIME_ONLY
from ..models import Channel, LedgerEntry, Partner


async def by_name(session: AsyncSession, name: str, *, for_update: bool = False) -> Partner | None:
    stmt = select(Partner).where(Partner.name == name)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def page(session: AsyncSession, count: int, offset: int, q: str | None = None) -> tuple[list[Partner], int]:
    """Partners oldest first; ``q``: only names containing it (case-insensitive)."""
    stmt = select(Partner)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(func.lower(Partner.name).like(f"%{escaped.lower()}%", escape="\\"))
    return await paging.page(session, stmt, count, offset, Partner.created_ms, Partner.id)


async def channel_counts(session: AsyncSession, partner_ids: Sequence[str], now_ms: int) -> dict[str, dict]:
    """Per partner: live channel counts by mode and by run state."""
    counts: dict[str, dict] = {
        pid: {"total": 0, "byMode": {"trial": 0, "live": 0, "dev": 0, "dev_archive": 0},
              "byState": {"running": 0, "stopped": 0, "expired": 0}, "paidRunning": 0, "burning": 0}
        for pid in partner_ids}
    if not partner_ids:
        return counts
    runs = channels.running(now_ms)
    rows = (await session.execute(
        select(Channel.partner_id, Channel.mode, Channel.expired, runs.label("running"), func.count())
        .where(Channel.partner_id.in_(partner_ids), Channel.deleted_ms.is_(None))
        .group_by(Channel.partner_id, Channel.mode, Channel.expired, runs)
    )).all()
    for pid, mode, expired, is_running, n in rows:
        c = counts[pid]
        c["total"] += n
        c["byMode"][mode] = c["byMode"].get(mode, 0) + n
        state = "expired" if expired else ("running" if is_running else "stopped")
        c["byState"][state] += n
    paid_running = (await session.execute(
        select(Channel.partner_id, func.count())
        .where(Channel.partner_id.in_(partner_ids), Channel.deleted_ms.is_(None),
               Channel.mode.in_(("trial", "live")), Channel.stopped.is_(False), Channel.expired.is_(False),
               Channel.active_till_ms > now_ms,
               (Channel.trial_ms.is_(None)) | (Channel.active_till_ms > Channel.trial_ms))
        .group_by(Channel.partner_id))).all()
    for pid, n in paid_running:
        counts[pid]["paidRunning"] = n
    for pid, n in (await autoextend.burning(session, partner_ids, now_ms)).items():
        counts[pid]["burning"] = n
    return counts


def history_query(partner_id: str, *, type: str | None = None, channel_id: str | None = None,
                  since_ms: int | None = None, until_ms: int | None = None) -> Select:
    stmt = select(LedgerEntry).where(LedgerEntry.partner_id == partner_id)
    if type:
        stmt = stmt.where(LedgerEntry.type == type)
    else:  # records of channel time alone move no days: not part of a billing history
        stmt = stmt.where(LedgerEntry.type.not_in(sorted(TIME_ONLY)))
    if channel_id:
        stmt = stmt.where(LedgerEntry.channel_id == channel_id)
    if since_ms is not None:
        stmt = stmt.where(LedgerEntry.created_ms >= since_ms)
    if until_ms is not None:
        stmt = stmt.where(LedgerEntry.created_ms < until_ms)
    return stmt


async def history_page(session: AsyncSession, stmt: Select, count: int, offset: int) -> tuple[list, int]:
    return await paging.page(session, stmt, count, offset, LedgerEntry.id.desc())


async def history_batch(session: AsyncSession, stmt: Select, after: int | None, size: int) -> list[LedgerEntry]:
    """The next ``size`` entries of ``stmt`` in id order, after entry id ``after``."""
    if after is not None:
        stmt = stmt.where(LedgerEntry.id > after)
    return list((await session.execute(stmt.order_by(LedgerEntry.id).limit(size))).scalars().all())
