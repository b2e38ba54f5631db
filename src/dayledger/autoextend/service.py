"""Auto-extend policies: set, show and remove a channel's own policy or its project's
default. A channel's own policy wins over its project's, paused or not. Nothing here moves
days (the worker does, see applying.py), and nothing commits."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..channels import repository as channels
from ..errors import Conflict, NotFound
from ..models import AutoextendPolicy
from ..projects import service as projects
from . import repository
from .schemas import PolicyBody, until_ms

_ALNUM = string.ascii_letters + string.digits
ID_LENGTH = 23  # "ax_" and 20 letters or digits: verify reads the id back out of the ledger keys


def new_id() -> str:
    return "ax_" + "".join(secrets.choice(_ALNUM) for _ in range(ID_LENGTH - 3))


@dataclass(frozen=True)
class Applied:
    """The policy that applies to a channel, and the extensions it has made of it."""
    policy: AutoextendPolicy
    cycles: int


def _none(what: str) -> NotFound:
    return NotFound("no auto-extend policy", f"{what} has no auto-extend policy")


async def _put(session: AsyncSession, policy: AutoextendPolicy | None, body: PolicyBody, now_ms: int,
               **target: str) -> AutoextendPolicy:
    """Create the policy, or change it in place: its id, spentDays and cycles stay (the
    budget counts everything it has spent). Setting it clears the last failure."""
    if policy is None:
        policy = AutoextendPolicy(id=new_id(), spent_days=0, created_ms=now_ms, **target)
        session.add(policy)
    policy.below_days, policy.extend_days = body.belowDays, body.extendDays
    policy.until_ms, policy.budget_days, policy.paused = until_ms(body.until), body.budgetDays, body.paused
    policy.last_failure, policy.failing, policy.updated_ms = None, False, now_ms
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent PUT created it first
        raise Conflict("policy changed concurrently", "another request set this policy at the same time; "
                       "send yours again") from exc
    return policy


async def set_for_channel(session: AsyncSession, partner_id: str, channel_id: str, body: PolicyBody,
                          now_ms: int) -> AutoextendPolicy:
    # The channel row first, as the worker locks it (then the policy): no deadlock.
    ch = await channels.get(session, partner_id, channel_id, for_update=True)
    policy = await repository.of_channel(session, ch.id, for_update=True)
    return await _put(session, policy, body, now_ms, partner_id=partner_id, channel_id=ch.id)


async def set_for_project(session: AsyncSession, partner_id: str, project_id: str, body: PolicyBody,
                          now_ms: int) -> AutoextendPolicy:
    project = await projects.get(session, partner_id, project_id)
    policy = await repository.of_project(session, project.id, for_update=True)
    return await _put(session, policy, body, now_ms, partner_id=partner_id, project_id=project.id)


async def for_channel(session: AsyncSession, partner_id: str, channel_id: str) -> Applied:
    """The channel's own policy, else its project's default (404 when neither exists)."""
    ch = await channels.get(session, partner_id, channel_id)
    policy = await repository.of_channel(session, ch.id) or await repository.of_project(session, ch.project_id)
    if policy is None:
        raise _none(f"channel {ch.id} (nor its project)")
    return Applied(policy, await repository.cycles_of(session, policy.id, ch.id))


async def for_project(session: AsyncSession, partner_id: str, project_id: str) -> AutoextendPolicy:
    project = await projects.get(session, partner_id, project_id)
    policy = await repository.of_project(session, project.id)
    if policy is None:
        raise _none(f"project {project_id}")
    return policy


async def remove_for_channel(session: AsyncSession, partner_id: str, channel_id: str) -> AutoextendPolicy:
    """Remove the channel's own policy (its project's default, if any, applies again)."""
    ch = await channels.get(session, partner_id, channel_id, for_update=True)
    policy = await repository.of_channel(session, ch.id, for_update=True)
    if policy is None:
        raise _none(f"channel {ch.id}")
    await repository.remove(session, policy)
    return policy


async def remove_for_project(session: AsyncSession, partner_id: str, project_id: str) -> AutoextendPolicy:
    project = await projects.get(session, partner_id, project_id)
    policy = await repository.of_project(session, project.id, for_update=True)
    if policy is None:
        raise _none(f"project {project_id}")
    await repository.remove(session, policy)
    return policy
