"""Worker job: expire running trial/live channels whose paid (or free) time has run out.

A channel the partner stopped by hand is left alone: it stays ``stopped`` (not
``expired``), so a later extension adds time without starting it against the partner's
will.

One call expires one batch in the caller's transaction. On PostgreSQL the batch is
claimed with ``FOR UPDATE SKIP LOCKED``, so several workers on several hosts split the
work without waiting on each other and no channel is expired twice.
"""

from __future__ import annotations

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..ledger import SYSTEM
from ..models import Channel, Event, LedgerEntry, Partner


def _due(now_ms: int) -> tuple:
    """Running trial/live channels whose time has passed."""
    return (Channel.expired.is_(False), Channel.stopped.is_(False), Channel.deleted_ms.is_(None),
            Channel.mode.in_(("trial", "live")),
            Channel.active_till_ms <= now_ms,
            # A channel that never had time (created unpaid) never ran, so it cannot expire.
            Channel.active_till_ms > Channel.created_ms)


async def count_due(session: AsyncSession, now_ms: int) -> int:
    """How many channels are due (what ``dayledger worker --once`` shows progress against)."""
    return (await session.execute(select(func.count()).select_from(Channel).where(*_due(now_ms)))).scalar_one()


async def expire_due(session: AsyncSession, now_ms: int, batch_size: int = 5000) -> int:
    claim = (
        select(Channel.id, Channel.partner_id, Channel.mode, Channel.active_till_ms)
        .where(*_due(now_ms))
        .order_by(Channel.active_till_ms).limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    due = (await session.execute(claim)).all()
    if not due:
        return 0
    ids = [row.id for row in due]
    await session.execute(update(Channel).where(Channel.id.in_(ids)).values(expired=True, stopped=True)
                          .execution_options(synchronize_session=False))
    # Lock the partners in id order (the same order every worker uses) and record each
    # expiry with the partner's balance, keeping every partner's balance_after chain intact.
    partner_ids = sorted({row.partner_id for row in due})
    balances = dict((await session.execute(
        select(Partner.id, Partner.balance).where(Partner.id.in_(partner_ids))
        .order_by(Partner.id).with_for_update())).all())
    await session.execute(insert(LedgerEntry), [
        {"partner_id": row.partner_id, "created_ms": now_ms, "type": "expire", "days": 0,
         "balance_delta": 0, "balance_after": balances[row.partner_id], "channel_id": row.id,
         "channel_days": 0, "comment": f"{row.mode} channel expired", "actor_type": SYSTEM.type,
         "actor_id": SYSTEM.id}
        for row in due])
    await session.execute(insert(Event), [
        {"partner_id": row.partner_id, "type": "channel.expired", "channel_id": row.id, "created_ms": now_ms,
         "payload": {"id": row.id, "mode": row.mode, "activeTill": row.active_till_ms}}
        for row in due])
    return len(due)
