"""Who is looking at a page: the session cookie, its user, the partner, and the
``Principal`` the user's role gives (the same one the API's services check). CSRF: every
form of a signed-in page carries the session's token; the sign-in and invitation forms,
which have no session yet, carry a token that must match their own cookie."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from ..auth.service import Principal
from ..config import Settings
from ..context import Services
from ..errors import DayledgerError, Forbidden
from ..models import Partner, User
from ..users import service as users

SESSION_COOKIE = "dl_session"
CSRF_COOKIE = "dl_csrf"


@dataclass
class Viewer:
    user: User
    partner: Partner | None  # None: an operator user
    principal: Principal
    csrf: str
    session_id: str

    @property
    def tz(self) -> str:
        return self.partner.timezone if self.partner else "UTC"

    def can(self, permission: str) -> bool:
        """Whether the role allows ``permission`` (read, channels, billing, full)."""
        try:
            self.principal.require(permission)
        except DayledgerError:
            return False
        return not (self.principal.suspended and permission != "read")

    @property
    def is_owner(self) -> bool:
        return self.user.role in ("owner", "operator")


class SignInNeeded(Exception):
    """The page needs a signed-in user (of a kind): answered with a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def services(request: Request) -> Services:
    return request.app.state.services


async def viewer(request: Request, kind: str | None) -> Viewer:
    """The signed-in user of ``kind`` (partner or operator; None: either), or SignInNeeded."""
    svc = services(request)
    cookie = request.cookies.get(SESSION_COOKIE)

    async def fn(session: AsyncSession) -> Viewer | None:
        found = await users.current(session, cookie, svc.clock.now_ms())
        if found is None:
            return None
        ws, user = found
        if kind is not None and user.kind != kind:
            return None
        partner = await session.get(Partner, user.partner_id) if user.partner_id else None
        return Viewer(user, partner, users.principal_of(user, partner), ws.csrf, ws.id)
    seen = await svc.db.run(fn)
    if seen is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInNeeded(target)
    return seen


def check_csrf(sent: str | None, expected: str | None) -> None:
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise Forbidden("the form has expired", "reload the page and send the form again (CSRF check failed)")


def secure_cookies(settings: Settings) -> bool:
    return settings.public_url.startswith("https://")


def set_cookie(response: Response, settings: Settings, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=secure_cookies(settings))


def form_token(request: Request) -> str:
    """The pre-session CSRF token: the cookie's, or a new one (the caller sets the cookie)."""
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="/")


def safe_next(target: str | None, default: str) -> str:
    """Only a path of this site (no scheme, no //host): an open redirect otherwise."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
