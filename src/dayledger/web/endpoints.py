"""Signing in and out, the password, invitations, the start page and the static files.
Pages are HTML (not in the OpenAPI document); forms post back with a CSRF token."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from ..errors import DayledgerError
from ..models import Partner, User
from ..users import service as users
from . import forms
from .navigation import nav_for
from .pages import page, page_route, redirect
from .render import STATIC_DIR
from .session import (CSRF_COOKIE, SESSION_COOKIE, SignInNeeded, Viewer, check_csrf, form_token, safe_next,
                      services, set_cookie, viewer)

router = APIRouter(include_in_schema=False)


def home_of(kind: str) -> str:
    return "/console/" if kind == "operator" else "/dashboard/"


async def _anyone(request: Request) -> Viewer | None:
    try:
        return await viewer(request, None)
    except SignInNeeded:
        return None


@router.get("/")
async def start(request: Request) -> Response:
    seen = await _anyone(request)
    return RedirectResponse(home_of(seen.user.kind) if seen else "/login", status_code=303)


def _login_page(request: Request, *, error: str | None = None, email: str = "", status: int = 200) -> Response:
    token = form_token(request)
    response = page(request, "login.html", status=status, title="Sign in", csrf=token, error=error, email=email,
                    next=safe_next(request.query_params.get("next"), ""))
    set_cookie(response, services(request).settings, CSRF_COOKIE, token, None)
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    seen = await _anyone(request)
    if seen:
        return redirect(safe_next(request.query_params.get("next"), home_of(seen.user.kind)))
    return _login_page(request)


@router.post("/login")
@page_route
async def login(request: Request) -> Response:
    form = await forms.read(request)
    check_csrf(form.get("csrf"), request.cookies.get(CSRF_COOKIE))
    svc = services(request)
    email, password = form.get("email", "")[:300], form.get("password", "")[:300]
    address = request.client.host if request.client else "unknown"

    async def fn(session: AsyncSession) -> users.SignedIn | DayledgerError:
        return await users.sign_in(session, email, password, address, svc.clock.now_ms())
    result = await svc.db.run(fn)  # commits the failure it records, too
    if isinstance(result, DayledgerError):
        return _login_page(request, error=result.message + (f": {result.details}" if result.details else ""),
                           email=email, status=result.status)
    target = safe_next(form.get("next"), home_of(result.user.kind))
    if not target.startswith(home_of(result.user.kind)) and target != "/account/password":
        target = home_of(result.user.kind)
    response = redirect(target)
    set_cookie(response, svc.settings, SESSION_COOKIE, result.cookie, users.SESSION_DAYS * 86_400)
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
@page_route
async def logout(request: Request) -> Response:
    form = await forms.read(request)
    seen = await _anyone(request)
    if seen:
        check_csrf(form.get("csrf"), seen.csrf)
        cookie = request.cookies.get(SESSION_COOKIE)

        async def fn(session: AsyncSession) -> None:
            await users.sign_out(session, cookie)
        await services(request).db.run(fn)
    response = redirect("/login", "You are signed out.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account/password")
@page_route
async def password_form(request: Request) -> Response:
    seen = await _anyone(request)
    if seen is None:
        return redirect("/login?next=/account/password")
    return page(request, "password.html", title="Change password", viewer=seen, nav=nav_for(seen.user.kind),
                errors={})


@router.post("/account/password")
@page_route
async def change_password(request: Request) -> Response:
    seen = await _anyone(request)
    if seen is None:
        return redirect("/login?next=/account/password")
    form = await forms.read(request)
    check_csrf(form.get("csrf"), seen.csrf)
    svc = services(request)

    async def fn(session: AsyncSession) -> None:
        user = await session.get(User, seen.user.id)
        assert user is not None
        await users.change_password(session, user, form.get("current", ""), form.get("new", ""), seen.session_id,
                                    svc.clock.now_ms())
    try:
        await svc.db.run(fn)
    except DayledgerError as exc:
        field = "current" if exc.message == "wrong password" else "new"
        return page(request, "password.html", status=exc.status, title="Change password", viewer=seen,
                    nav=nav_for(seen.user.kind), errors={field: exc.details})
    return redirect(home_of(seen.user.kind), "Your password was changed.")


async def _invitation(request: Request, token: str) -> tuple[str, str, str]:
    svc = services(request)

    async def fn(session: AsyncSession) -> tuple[str, str, str]:
        inv = await users.invitation(session, token, svc.clock.now_ms())
        partner = await session.get(Partner, inv.partner_id)
        return inv.email, inv.role, partner.name if partner else ""
    return await svc.db.run(fn)


@router.get("/invite/{token}")
@page_route
async def invitation_form(request: Request, token: str) -> Response:
    email, role, partner_name = await _invitation(request, token)
    csrf = form_token(request)
    response = page(request, "invite.html", title=f"Join {partner_name}", email=email, role=role,
                    partner_name=partner_name, csrf=csrf)
    set_cookie(response, services(request).settings, CSRF_COOKIE, csrf, None)
    return response


@router.post("/invite/{token}")
@page_route
async def accept_invitation(request: Request, token: str) -> Response:
    form = await forms.read(request)
    check_csrf(form.get("csrf"), request.cookies.get(CSRF_COOKIE))
    svc = services(request)

    async def fn(session: AsyncSession) -> users.SignedIn:
        user = await users.accept(session, token, form.get("password", ""), svc.clock.now_ms())
        return await users.start_session(session, user, svc.clock.now_ms())
    try:
        signed = await svc.db.run(fn)
    except DayledgerError as exc:
        if exc.status == 404:
            raise
        email, role, partner_name = await _invitation(request, token)
        return page(request, "invite.html", status=exc.status, title=f"Join {partner_name}", email=email,
                    role=role, partner_name=partner_name, csrf=form.get("csrf", ""),
                    error=exc.message + (f": {exc.details}" if exc.details else ""))
    response = redirect("/dashboard/", "Welcome! Your account is ready.")
    set_cookie(response, svc.settings, SESSION_COOKIE, signed.cookie, users.SESSION_DAYS * 86_400)
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
