"""Read-only queries of the money and automation pages: the projects with their default
auto-extend policy, and the channels that have a policy of their own. Everything that
changes something goes through the domain services; nothing here imports the web framework."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import paging
from ..models import AutoextendPolicy, Channel, Project


@dataclass
class ProjectPolicy:
    project: Project
    policy: AutoextendPolicy | None


@dataclass
class ChannelPolicy:
    policy: AutoextendPolicy
    channel_id: str
    name: str
    mode: str
    active_till_ms: int


async def project_policies(session: AsyncSession, partner_id: str, limit: int = 200) -> list[ProjectPolicy]:
    """The partner's projects (the default one first) and each one's policy, if any."""
    stmt = (select(Project, AutoextendPolicy)
            .outerjoin(AutoextendPolicy, AutoextendPolicy.project_id == Project.id)
            .where(Project.partner_id == partner_id, Project.deleted_ms.is_(None))
            .order_by(Project.is_default.desc(), Project.created_ms, Project.id).limit(limit))
    return [ProjectPolicy(project, policy) for project, policy in (await session.execute(stmt)).all()]


async def channel_policies(session: AsyncSession, partner_id: str, count: int,
                           offset: int) -> tuple[list[ChannelPolicy], int]:
    """The partner's channels (not deleted) that have a policy of their own, soonest end first."""
    stmt = (select(AutoextendPolicy, Channel.id, Channel.name, Channel.mode, Channel.active_till_ms)
            .join(Channel, Channel.id == AutoextendPolicy.channel_id)
            .where(AutoextendPolicy.partner_id == partner_id, Channel.partner_id == partner_id,
                   Channel.deleted_ms.is_(None)))
    rows, total = await paging.page(session, stmt, count, offset, Channel.active_till_ms, Channel.id, scalars=False)
    return [ChannelPolicy(p, cid, name, mode, till) for p, cid, name, mode, till in rows], total
