"""Projects group a partner's channels; every partner has one default project."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import ids, paging
from ..errors import Conflict, NotFound
from ..models import Channel, Project


async def create(session: AsyncSession, partner_id: str, name: str, now_ms: int, *,
                 is_default: bool = False) -> Project:
    project = Project(id=ids.project_id(), partner_id=partner_id, name=name,
                      is_default=is_default, created_ms=now_ms)
    session.add(project)
    await session.flush()
    return project


async def get(session: AsyncSession, partner_id: str, project_id: str) -> Project:
    """The partner's project; ``default`` names the default project. Others' ids are 404."""
    stmt = select(Project).where(Project.partner_id == partner_id, Project.deleted_ms.is_(None))
    if project_id == "default":
        stmt = stmt.where(Project.is_default.is_(True))
    else:
        stmt = stmt.where(Project.id == project_id)
    project = (await session.execute(stmt)).scalar_one_or_none()
    if project is None:
        raise NotFound("project not found", f"no project with id {project_id}")
    return project


async def page(session: AsyncSession, partner_id: str, count: int, offset: int) -> tuple[list[Project], int]:
    base = select(Project).where(Project.partner_id == partner_id, Project.deleted_ms.is_(None))
    return await paging.page(session, base, count, offset, Project.created_ms, Project.id)


async def rename(session: AsyncSession, partner_id: str, project_id: str, name: str) -> Project:
    project = await get(session, partner_id, project_id)
    project.name = name
    await session.flush()
    return project


async def delete(session: AsyncSession, partner_id: str, project_id: str, now_ms: int) -> None:
    project = await get(session, partner_id, project_id)
    if project.is_default:
        raise Conflict("default project", "the default project cannot be deleted")
    live = (await session.execute(select(func.count()).select_from(Channel).where(
        Channel.project_id == project.id, Channel.deleted_ms.is_(None)))).scalar_one()
    if live:
        raise Conflict("project has channels",
                       f"the project still has {live} channel(s); delete or move them first")
    project.deleted_ms = now_ms
    await session.flush()
