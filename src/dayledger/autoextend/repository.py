"""Queries of auto-extend policies (the only place with SQL for this domain): the policy
of a channel or a project, the channels due for an extension, and the burn of the runway."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, delete, exists, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ..clock import DAY_MS
from ..ledger.channel_time import PAID_MODES
from ..models import AutoextendCycle, AutoextendPolicy, Channel, LedgerEntry, Partner

Policy = AutoextendPolicy


async def of_channel(session: AsyncSession, channel_id: str, *, for_update: bool = False) -> Policy | None:
    stmt = select(Policy).where(Policy.channel_id == channel_id)
    return (await session.execute(stmt.with_for_update() if for_update else stmt)).scalar_one_or_none()


async def of_project(session: AsyncSession, project_id: str, *, for_update: bool = False) -> Policy | None:
    stmt = select(Policy).where(Policy.project_id == project_id)
    return (await session.execute(stmt.with_for_update() if for_update else stmt)).scalar_one_or_none()


async def cycles_of(session: AsyncSession, policy_id: str, channel_id: str) -> int:
    stmt = select(AutoextendCycle.cycles).where(AutoextendCycle.policy_id == policy_id,
                                                AutoextendCycle.channel_id == channel_id)
    return (await session.execute(stmt)).scalar_one_or_none() or 0


async def remove(session: AsyncSession, policy: Policy) -> None:
    await session.execute(delete(AutoextendCycle).where(AutoextendCycle.policy_id == policy.id))
    await session.delete(policy)
    await session.flush()


def active(p: Any, now_ms: int) -> ColumnElement[bool]:
    """SQL: the policy extends now (not paused, before its end, a full extension left in
    its budget)."""
    return and_(p.paused.is_(False), or_(p.until_ms.is_(None), p.until_ms > now_ms),
                or_(p.budget_days.is_(None), p.spent_days + p.extend_days <= p.budget_days))


def runs(now_ms: int) -> tuple:
    """SQL: a trial or live channel that runs now with time of its own (never a sandbox,
    a stopped, expired or deleted channel, nor one that never had time)."""
    return (Channel.deleted_ms.is_(None), Channel.mode.in_(PAID_MODES), Channel.stopped.is_(False),
            Channel.expired.is_(False), Channel.active_till_ms > now_ms,
            Channel.active_till_ms > Channel.created_ms)


def _due(p: Any, now_ms: int) -> tuple:
    # In BIGINT: L × DAY_MS passes int4 on PostgreSQL from 25 days.
    ends_soon = Channel.active_till_ms < literal(now_ms, BigInteger) + p.below_days * literal(DAY_MS, BigInteger)
    not_tried = or_(AutoextendCycle.tried_ms.is_(None), AutoextendCycle.tried_ms < now_ms)
    # A policy failing on a short balance is tried again as soon as the balance can pay K:
    # not every round over every channel while nothing changed (thousands of channels).
    can_pay = or_(p.failing.is_(False), Partner.balance >= p.extend_days)
    return (*runs(now_ms), ends_soon, active(p, now_ms), Partner.status == "active", not_tried, can_pay)


def _own_due(now_ms: int):
    return (select(Channel.id, Channel.partner_id, Channel.active_till_ms, Policy.id.label("policy_id"))
            .join(Policy, Policy.channel_id == Channel.id)
            .join(Partner, Partner.id == Channel.partner_id)
            .outerjoin(AutoextendCycle, and_(AutoextendCycle.policy_id == Policy.id,
                                             AutoextendCycle.channel_id == Channel.id))
            .where(*_due(Policy, now_ms)))


def _project_due(now_ms: int):
    own = aliased(Policy)
    return (select(Channel.id, Channel.partner_id, Channel.active_till_ms, Policy.id.label("policy_id"))
            .join(Policy, Policy.project_id == Channel.project_id)
            .join(Partner, Partner.id == Channel.partner_id)
            .outerjoin(AutoextendCycle, and_(AutoextendCycle.policy_id == Policy.id,
                                             AutoextendCycle.channel_id == Channel.id))
            .where(*_due(Policy, now_ms), ~exists().where(own.channel_id == Channel.id)))


async def claim_due(session: AsyncSession, now_ms: int, batch: int) -> list:
    """Running channels with less than L days left under a policy that applies and runs
    (the channel's own, else its project's), not yet tried this round, locked: ``SKIP
    LOCKED`` on PostgreSQL, so several workers never take the same channel."""
    rows: list = []
    for query in (_own_due(now_ms), _project_due(now_ms)):
        if len(rows) >= batch:
            break
        rows += (await session.execute(query.order_by(Channel.active_till_ms, Channel.id).limit(batch - len(rows))
                                       .with_for_update(of=Channel, skip_locked=True))).all()
    return rows


async def count_due(session: AsyncSession, now_ms: int) -> int:
    """Channels the policies would extend (or try) now, for progress bars."""
    total = 0
    for query in (_own_due(now_ms), _project_due(now_ms)):
        total += (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    return total


async def rearm(session: AsyncSession, now_ms: int) -> int:
    """End the shortfall of every failing policy whose partner's balance can pay K again,
    extension or not: the next short balance is a new shortfall, told again."""
    recovered = exists().where(Partner.id == Policy.partner_id, Partner.balance >= Policy.extend_days)
    done = await session.execute(update(Policy).where(Policy.failing.is_(True), recovered).values(failing=False)
                                 .execution_options(synchronize_session=False))
    return int(getattr(done, "rowcount", 0) or 0)


async def lock_policies(session: AsyncSession, ids: Collection[str]) -> dict[str, Policy]:
    rows = (await session.execute(select(Policy).where(Policy.id.in_(sorted(ids))).order_by(Policy.id)
                                  .with_for_update())).scalars()
    return {p.id: p for p in rows}


async def lock_balance(session: AsyncSession, partner_id: str) -> int:
    return (await session.execute(select(Partner.balance).where(Partner.id == partner_id)
                                  .with_for_update())).scalar_one()


async def cycles(session: AsyncSession, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], AutoextendCycle]:
    """The cycle rows of these (policy, channel) pairs, created at 0 where missing. Called
    with the channels locked: nobody else writes these rows meanwhile."""
    found = {}
    for policy_id in {p for p, _ in pairs}:
        channels = [c for p, c in pairs if p == policy_id]
        rows = (await session.execute(select(AutoextendCycle).where(
            AutoextendCycle.policy_id == policy_id, AutoextendCycle.channel_id.in_(channels)))).scalars()
        found.update({(r.policy_id, r.channel_id): r for r in rows})
    for pair in pairs:
        if pair not in found:
            found[pair] = AutoextendCycle(policy_id=pair[0], channel_id=pair[1], cycles=0)
            session.add(found[pair])
    return found


async def entry_of_key(session: AsyncSession, channel_id: str, key: str) -> int | None:
    """The days of the channel's entry with this auto-extend key, if a cycle already made it."""
    return (await session.execute(select(LedgerEntry.days).where(
        LedgerEntry.channel_id == channel_id, LedgerEntry.idempotency_key == key,
        LedgerEntry.actor_type == "system", LedgerEntry.actor_id == "autoextend"))).scalar_one_or_none()


def covered(now_ms: int) -> ColumnElement[bool]:
    """SQL: an active policy that is not failing applies to the channel (its own, else its
    project's): it will extend the channel before its time ends."""
    own, proj, mine = aliased(Policy), aliased(Policy), aliased(Policy)
    return or_(exists().where(own.channel_id == Channel.id, active(own, now_ms), own.failing.is_(False)),
               and_(~exists().where(mine.channel_id == Channel.id),
                    exists().where(proj.project_id == Channel.project_id, active(proj, now_ms),
                                   proj.failing.is_(False))))


async def burning(session: AsyncSession, partner_ids: Sequence[str], now_ms: int) -> dict[str, int]:
    """Per partner: the running trial or live channels the balance pays for, one day a day
    each: those with paid time (renewed by a policy or by hand) and those whose applicable
    policy is active (it will pay for them when their free time runs out)."""
    if not partner_ids:
        return {}
    own, proj = aliased(Policy), aliased(Policy)
    paid = or_(Channel.trial_ms.is_(None), Channel.active_till_ms > Channel.trial_ms)
    policy_runs = or_(and_(own.id.is_not(None), active(own, now_ms)),
                      and_(own.id.is_(None), proj.id.is_not(None), active(proj, now_ms)))
    rows = (await session.execute(
        select(Channel.partner_id, func.count())
        .outerjoin(own, own.channel_id == Channel.id)
        .outerjoin(proj, proj.project_id == Channel.project_id)
        .where(Channel.partner_id.in_(partner_ids), *runs(now_ms), or_(paid, policy_runs))
        .group_by(Channel.partner_id))).all()
    return {pid: n for pid, n in rows}
