"""Applying the policies: the worker's round.

Each step is one transaction. It claims running channels due for an extension (less than
L days left under a policy that applies and runs), ``SKIP LOCKED`` on PostgreSQL, so
several workers never take the same channel. Then, partner by partner in id order (so
concurrent steps take locks in one order and cannot deadlock), it locks the partner's
policies and its balance and extends each channel by K days through the ledger's ordinary
extension (``ledger.channel_time.extend``: the ``channel.extended`` event, the debit and
the entry are those of ``POST /channels/{id}/extend``).

At most once per cycle: cycle n of a channel under a policy writes its entry with the
idempotency key ``autoextend:<policy>:<channel>:<n>``, unique in the ledger, and the
cycle count moves to n in the same transaction. A crash before the commit leaves
neither; a cycle count that fell behind its entries (bookkeeping lost) is caught up from
the ledger instead of debiting again. Each channel is tried at most once a round
(``tried_ms`` = the round's time), so a short balance does not make a round loop.

A short balance changes nothing but the policy's ``lastFailure``; ``autoextend.failed``
is emitted once per shortfall (``failing``). Every round then checks whether the balance
can pay K (in the claim's SQL, so thousands of waiting channels cost nothing meanwhile)
and extends as soon as it can. The shortfall ends with an extension, or when the balance
can pay K again (``repository.rearm``, a job of its own), whichever comes first."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..ledger import Actor, Op
from ..ledger import channel_time as time
from ..models import AutoextendCycle, AutoextendPolicy
from . import repository
from .schemas import state_of

ACTOR = Actor("system", "autoextend")  # models/ledger_entry.py: the unique index on its keys


def key(policy_id: str, channel_id: str, cycle: int) -> str:
    return f"autoextend:{policy_id}:{channel_id}:{cycle}"


def comment(policy_id: str, cycle: int) -> str:
    return f"auto-extend policy {policy_id} cycle {cycle}"


async def run_due(session: AsyncSession, now_ms: int, batch: int) -> int:
    """One step: the channels claimed (extended, caught up, or tried on a short balance)."""
    due = await repository.claim_due(session, now_ms, batch)
    for partner_id, rows in groupby(sorted(due, key=lambda r: (r.partner_id, r.active_till_ms, r.id)),
                                    key=lambda r: r.partner_id):
        await _partner(session, partner_id, list(rows), now_ms)
    return len(due)


async def _partner(session: AsyncSession, partner_id: str, rows: list, now_ms: int) -> None:
    # Lock order, as everywhere: channels (claimed), then the policies, then the partner row.
    policies = await repository.lock_policies(session, {r.policy_id for r in rows})
    rows = [r for r in rows if r.policy_id in policies]  # a policy removed meanwhile
    if not rows:
        return
    balance = await repository.lock_balance(session, partner_id)
    cycles = await repository.cycles(session, [(r.policy_id, r.id) for r in rows])
    for r in rows:
        policy, cycle = policies[r.policy_id], cycles[(r.policy_id, r.id)]
        if cycle.tried_ms is not None and cycle.tried_ms >= now_ms:
            continue  # another worker's step took it this round, after this step's claim read it
        cycle.tried_ms = now_ms
        if state_of(policy, now_ms) != "active":  # changed by a step that ran before this one
            continue
        balance = await _apply(session, policy, cycle, partner_id, balance, now_ms)


async def _apply(session: AsyncSession, policy: AutoextendPolicy, cycle: AutoextendCycle, partner_id: str,
                 balance: int, now_ms: int) -> int:
    n, days = cycle.cycles + 1, policy.extend_days
    k = key(policy.id, cycle.channel_id, n)
    if (paid := await repository.entry_of_key(session, cycle.channel_id, k)) is not None:
        # Cycle n was paid for and its bookkeeping lost: count it, never debit it again.
        cycle.cycles = n
        policy.spent_days += paid
        return balance
    if balance < days:
        await _short(session, policy, cycle.channel_id, n, balance, partner_id, now_ms)
        return balance
    extended = await time.extend(session, partner_id, cycle.channel_id, days, comment(policy.id, n),
                                 Op(now_ms, ACTOR, k))
    cycle.cycles = n
    policy.spent_days += days
    policy.last_extended_ms = now_ms
    policy.failing, policy.last_failure = False, None  # the shortfall, if any, is over
    return extended.posted.balance_after


async def _short(session: AsyncSession, policy: AutoextendPolicy, channel_id: str, cycle: int, balance: int,
                 partner_id: str, now_ms: int) -> None:
    message = (f"extending channel {channel_id} by {policy.extend_days} days needs {policy.extend_days} days "
               f"but the balance is {balance} days; top up: the policy tries again every round")
    policy.last_failure = {"code": "insufficient_balance", "message": message, "time": now_ms,
                           "channelId": channel_id}
    if policy.failing:
        return  # this shortfall was told already
    policy.failing = True
    payload: dict[str, Any] = {
        "policyId": policy.id, "scope": "channel" if policy.channel_id else "project",
        "projectId": policy.project_id, "channelId": channel_id, "cycle": cycle, "days": policy.extend_days,
        "balance": balance, "code": "insufficient_balance", "message": message}
    await events.emit(session, partner_id=partner_id, type="autoextend.failed", channel_id=channel_id,
                      now_ms=now_ms, payload=payload)
