"""Answers of the HTML pages: a rendered page with the security headers, a redirect after
a form (303, with a one-time message), and the error page. ``page_route`` turns what a
page handler raises into pages: sign-in needed → /login, a DayledgerError → the error page
with its status (404 for another partner's object, 403 for a forged or forbidden post)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..errors import DayledgerError
from .render import SECURITY_HEADERS, html
from .session import SignInNeeded, login_url

log = logging.getLogger("dayledger.web")
FLASH_COOKIE = "dl_flash"


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    flash = request.cookies.get(FLASH_COOKIE)
    response = HTMLResponse(html(template, request=request, path=request.url.path,
                                 flash=unquote(flash)[:300] if flash else None, **context),
                            status_code=status, headers=SECURITY_HEADERS)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(url: str, flash: str | None = None) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303, headers={"cache-control": "no-store"})
    if flash:
        response.set_cookie(FLASH_COOKIE, quote(flash[:300]), max_age=60, path="/", httponly=True, samesite="lax")
    return response


def error_page(request: Request, exc: DayledgerError, viewer: Any = None) -> HTMLResponse:
    return page(request, "error.html", status=exc.status, error=exc, viewer=viewer)


def page_route(fn: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Response:
        request = kwargs.get("request") or next(a for a in args if isinstance(a, Request))
        try:
            return await fn(*args, **kwargs)
        except SignInNeeded as exc:
            return RedirectResponse(login_url(exc.next_path), status_code=303)
        except DayledgerError as exc:
            return error_page(request, exc)
    return wrapper
