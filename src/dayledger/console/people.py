"""The console's operator users: the list, a new one (email and password, through
``users.service.create`` as ``dayledger user create --operator`` does), removing one
(``users.service.remove``: disabled, its sessions ended). An operator cannot remove
itself, so the console always keeps the one who is using it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from ..models import User
from ..users import service as users
from ..web.forms import FieldError
from ..web.pages import page_route, redirect
from ..web.session import Viewer, services
from .common import attempt, operator_viewer, posted, show

router = APIRouter(include_in_schema=False)
WHERE = {"user exists": "email", "invalid email": "email", "password not accepted": "password"}


async def _page(request: Request, seen: Viewer, *, status: int = 200, errors: dict[str, str] | None = None,
                values: dict[str, str] | None = None) -> Response:
    async def fn(session: AsyncSession) -> list[User]:
        return [u for u in await users.people(session, None) if u.disabled_ms is None]
    people = await services(request).db.run(fn)
    return await show(request, seen, "console/users.html", "Operator users", status=status, people=people,
                      errors=errors or {}, values={k: v for k, v in (values or {}).items() if k == "email"})


@router.get("/console/users")
@page_route
async def users_page(request: Request) -> Response:
    return await _page(request, await operator_viewer(request))


@router.post("/console/users")
@page_route
async def create_user(request: Request) -> Response:
    seen, form = await posted(request)
    svc = services(request)

    async def action() -> Response:
        email = form.get("email", "").strip()
        if not email:
            raise FieldError("email", "Email is required")

        async def fn(session: AsyncSession) -> str:
            user = await users.create(session, email=email, password=form.get("password", ""), partner=None,
                                      role="operator", now_ms=svc.clock.now_ms())
            return user.email
        return redirect("/console/users", f"Operator user {await svc.db.run(fn)} created: they sign in at /login.")

    async def redo(status: int, errors: dict[str, str]) -> Response:
        return await _page(request, seen, status=status, errors=errors, values=form)
    return await attempt(action, redo, WHERE, "email")


@router.post("/console/users/{user_id}/remove")
@page_route
async def remove_user(request: Request, user_id: str) -> Response:
    seen, _form = await posted(request)
    svc = services(request)

    async def action() -> Response:
        if user_id == seen.user.id:
            raise FieldError(f"row:{user_id}", "You cannot remove yourself: another operator can.")

        async def fn(session: AsyncSession) -> str:
            return (await users.remove(session, None, user_id, svc.clock.now_ms())).email
        return redirect("/console/users", f"{await svc.db.run(fn)} removed: signed out everywhere.")

    async def redo(status: int, errors: dict[str, str]) -> Response:
        return await _page(request, seen, status=status, errors={f"row:{user_id}": next(iter(errors.values()))})
    return await attempt(action, redo, {}, "form")
