"""The Whapi-compatible project routes. ``default`` may stand for the default project's id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from ..api import ERROR_RESPONSES, ApiRoute, Paging, Success, error_responses, handle, services
from ..auth.service import Principal
from ..ids import PROJECT_ID_PATTERN
from . import service
from .schemas import ProjectBody, ProjectList, ProjectReply

router = APIRouter(tags=["Projects"], responses=ERROR_RESPONSES, route_class=ApiRoute)
ProjectID = Annotated[str, Path(pattern=PROJECT_ID_PATTERN, description="Project ID")]
Uid = Annotated[str | None, Query(pattern=r"^(?:[a-zA-Z0-9]{28}|me)$", description="User ID")]


@router.get("/projects", summary="Get projects", operation_id="getProjects", response_model=ProjectList)
async def list_projects(request: Request, paging: Paging, uid: Uid = None) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> ProjectList:
        partner_id = principal.require_partner()
        principal.check_uid(uid)
        rows, total = await service.page(session, partner_id, paging.count, paging.offset)
        return ProjectList.of(rows, total, paging.offset)
    return await handle(request, fn, permission="read")


@router.put("/projects", summary="Create project", operation_id="createProject", response_model=ProjectReply,
            responses=error_responses(409))
async def create_project(request: Request, body: ProjectBody) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> ProjectReply:
        project = await service.create(session, principal.require_partner(), body.name,
                                       services(request).clock.now_ms())
        return ProjectReply.of(project)
    return await handle(request, fn, permission="channels")


@router.get("/projects/{ProjectID}", summary="Get project", operation_id="getProject", response_model=ProjectReply,
            responses=error_responses(404))
async def get_project(request: Request, ProjectID: ProjectID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> ProjectReply:
        return ProjectReply.of(await service.get(session, principal.require_partner(), ProjectID))
    return await handle(request, fn, permission="read")


@router.patch("/projects/{ProjectID}", summary="Update project", operation_id="updateProject", response_model=Success,
              responses=error_responses(404, 409))
async def update_project(request: Request, ProjectID: ProjectID, body: ProjectBody) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> Success:
        await service.rename(session, principal.require_partner(), ProjectID, body.name)
        return Success()
    return await handle(request, fn, permission="channels")


@router.delete("/projects/{ProjectID}", summary="Delete project (it must have no channels)",
               operation_id="deleteProject", response_model=Success, responses=error_responses(404, 409))
async def delete_project(request: Request, ProjectID: ProjectID) -> Response:
    async def fn(session: AsyncSession, principal: Principal) -> Success:
        await service.delete(session, principal.require_partner(), ProjectID, services(request).clock.now_ms())
        return Success()
    return await handle(request, fn, permission="channels")
