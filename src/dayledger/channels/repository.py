"""Queries for channels (the only place with SQL for this domain)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import BigInteger, Select, Table, and_, bindparam, func, literal, or_, select
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from .. import paging
from ..autoextend import repository as autoextend
from ..clock import DAY_MS
from ..errors import NotFound
from ..events import emit_many
from ..models import Channel, Partner


def running(now_ms: int):
    """SQL: the channel runs now (not stopped, not archived, a sandbox or with time left).
    ``state`` is ``expired`` if expired, else ``running`` if this holds, else ``stopped``
    (stopped by hand, archived, or out of time): the list filter and the profile's counts
    both use it."""
    return and_(Channel.stopped.is_(False), Channel.mode != "dev_archive",
                or_(Channel.mode == "dev", Channel.active_till_ms > now_ms))


def live(partner_id: str) -> Select:
    return select(Channel).where(Channel.partner_id == partner_id, Channel.deleted_ms.is_(None))


def _by_id(*, for_update: bool, include_deleted: bool) -> Select:
    stmt = select(Channel).where(Channel.id == bindparam("cid"), Channel.partner_id == bindparam("pid"))
    if not include_deleted:
        stmt = stmt.where(Channel.deleted_ms.is_(None))
    return stmt.with_for_update() if for_update else stmt


# Built once (they run on most requests): see ledger/service.py.
_BY_ID = {(lock, deleted): _by_id(for_update=lock, include_deleted=deleted)
          for lock in (False, True) for deleted in (False, True)}


async def get(session: AsyncSession, partner_id: str, channel_id: str, *, for_update: bool = False,
              include_deleted: bool = False) -> Channel:
    """The partner's channel; another partner's id answers 404 like an unknown one."""
    stmt = _BY_ID[(for_update, include_deleted)]
    channel = (await session.execute(stmt, {"cid": channel_id, "pid": partner_id})).scalar_one_or_none()
    if channel is None:
        raise NotFound("channel not found", f"no channel with id {channel_id}")
    return channel


def filtered(partner_id: str, now_ms: int, *, project_id: str | None = None, mode: str | None = None,
             state: str | None = None, status: str | None = None, expiring_within_days: int | None = None,
             q: str | None = None) -> Select:
    stmt = live(partner_id)
    if project_id:
        stmt = stmt.where(Channel.project_id == project_id)
    if mode:
        stmt = stmt.where(Channel.mode == mode)
    if state == "expired":
        stmt = stmt.where(Channel.expired.is_(True))
    elif state == "stopped":
        stmt = stmt.where(Channel.expired.is_(False), ~running(now_ms))
    elif state == "running":
        stmt = stmt.where(running(now_ms))
    if status == "expired":
        stmt = stmt.where(Channel.expired.is_(True))
    elif status:
        stmt = stmt.where(Channel.expired.is_(False), Channel.connection_status == status)
    if expiring_within_days is not None:
        stmt = stmt.where(Channel.mode.in_(("trial", "live")), Channel.expired.is_(False),
                          Channel.active_till_ms > now_ms,
                          Channel.active_till_ms <= now_ms + expiring_within_days * DAY_MS)
    if q:
        # The search text is literal: % and _ match themselves, not any characters.
        text = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{text}%"
        stmt = stmt.where(or_(func.lower(Channel.name).like(like, escape="\\"),
                              func.lower(Channel.id).like(like, escape="\\"),
                              func.lower(Channel.phone).like(like, escape="\\")))
    return stmt


# What an export row needs (the CSV columns and the status rules), as plain rows: loading
# ORM objects cost more than everything else an export does.
EXPORT_FIELDS = (Channel.created_ms, Channel.id, Channel.name, Channel.phone, Channel.mode, Channel.expired,
                 Channel.stopped, Channel.connection_status, Channel.active_till_ms, Channel.trial_ms)


async def export_batch(session: AsyncSession, stmt: Select, after: tuple[int, str] | None, size: int) -> list:
    """The next ``size`` channels of ``stmt`` in creation order, after ``(created_ms, id)``."""
    stmt = stmt.with_only_columns(*EXPORT_FIELDS)
    if after is not None:
        # Written so that the index on (partner_id, created_ms) gives a range scan.
        stmt = stmt.where(Channel.created_ms >= after[0], or_(Channel.created_ms > after[0], Channel.id > after[1]))
    return list((await session.execute(stmt.order_by(Channel.created_ms, Channel.id).limit(size))).all())


async def page(session: AsyncSession, stmt: Select, count: int, offset: int) -> tuple[list[Channel], int]:
    return await paging.page(session, stmt, count, offset, Channel.created_ms, Channel.id)


async def created_since(session: AsyncSession, partner_id: str, since_ms: int) -> tuple[int, int | None]:
    """How many channels the partner created since then (deleted ones too), and the oldest time."""
    row = (await session.execute(
        select(func.count(), func.min(Channel.created_ms))
        .where(Channel.partner_id == partner_id, Channel.created_ms > since_ms))).one()
    return row[0], row[1]


async def count_sandboxes(session: AsyncSession, partner_id: str) -> int:
    return (await session.execute(select(func.count()).select_from(Channel).where(
        Channel.partner_id == partner_id, Channel.deleted_ms.is_(None), Channel.mode == "dev"))).scalar_one()


# channel.expiring: no partner may ask for notice earlier than this, so the scan reads a
# bounded range of the expiry index.
MAX_EXPIRING_NOTICE_DAYS = 30
_channels = cast(Table, Channel.__table__)
_MARK_NOTIFIED = (_channels.update().where(_channels.c.id == bindparam("cid"))  # core: an executemany
                  .values(expiring_notified_till_ms=bindparam("till")))


async def notify_expiring(session: AsyncSession, now_ms: int, batch_size: int) -> int:
    """SPEC 7: ``channel.expiring`` once per channel per paid period, when its time ends
    within the partner's ``expiring_notice_days``. The channel remembers the end it was told
    about; an extension moves the end, and the next approach is told again. A channel an
    active auto-extend policy covers is not told (the policy extends it; if the balance is
    short, ``autoextend.failed`` says so and the channel is told again as usual). Several
    workers share the rows (SKIP LOCKED); the event is written in the transaction that marks them.
    The range read is bounded by the largest notice any partner asked for (a small-table
    read), not by the 30 days one could: a round with nothing due then reads only the
    channels ending that soon."""
    widest = (await session.execute(select(func.max(Partner.expiring_notice_days)))).scalar()
    horizon_days = min(int(widest or 0), MAX_EXPIRING_NOTICE_DAYS)
    if horizon_days <= 0:
        return 0
    due = (await session.execute(
        select(Channel.id, Channel.partner_id, Channel.mode, Channel.active_till_ms)
        .join(Partner, Partner.id == Channel.partner_id)
        .where(Channel.expired.is_(False), Channel.stopped.is_(False), Channel.deleted_ms.is_(None),
               Channel.mode.in_(("trial", "live")),
               Channel.active_till_ms > now_ms,
               Channel.active_till_ms <= now_ms + horizon_days * DAY_MS,
               # In BIGINT: days × DAY_MS passes int4 on PostgreSQL from 25 days.
               Channel.active_till_ms <= (literal(now_ms, BigInteger)
                                          + sql_cast(Partner.expiring_notice_days, BigInteger) * DAY_MS),
               Channel.active_till_ms > Channel.created_ms,  # never had time: nothing to end
               ~autoextend.covered(now_ms),  # a running policy will extend it (if it fails: told)
               or_(Channel.expiring_notified_till_ms.is_(None),
                   Channel.expiring_notified_till_ms != Channel.active_till_ms))
        .order_by(Channel.active_till_ms).limit(batch_size)
        .with_for_update(of=Channel, skip_locked=True))).all()
    if not due:
        return 0
    await session.execute(_MARK_NOTIFIED, [{"cid": row.id, "till": row.active_till_ms} for row in due])
    await emit_many(session, [
        {"partner_id": row.partner_id, "type": "channel.expiring", "channel_id": row.id, "created_ms": now_ms,
         "payload": {"id": row.id, "mode": row.mode, "activeTill": row.active_till_ms,
                     "hoursLeft": (row.active_till_ms - now_ms) // 3_600_000}}
        for row in due])
    return len(due)
