"""People's accounts (SPEC 9): partner users (owner: everything; member: channels; viewer:
read only) and operator users; sign-in with a rate limit and one message for a wrong email
or a wrong password; server-side sessions; invitations. A signed-in user acts through the
same services as an API token, as the ``Principal`` its role gives (``principal_of``).
Nothing here commits."""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..auth.service import Principal
from ..errors import Conflict, DayledgerError, Forbidden, NotFound, Unprocessable
from ..models import Invitation, Partner, SignInAttempt, User, WebSession
from . import passwords

ROLES = ("owner", "member", "viewer")
SCOPE_OF_ROLE = {"owner": "full", "member": "channels", "viewer": "read", "operator": "full"}
SESSION_DAYS = 14
INVITATION_DAYS = 7
# Failed sign-ins allowed within the window, per email and per client address.
WINDOW_MS = 15 * 60_000
PER_EMAIL = 5
PER_ADDRESS = 20
WRONG = "wrong email or password"
_ALNUM = string.ascii_letters + string.digits
DAY_MS = 86_400_000


class TooManyAttempts(DayledgerError):
    status = 429


def _id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(16))


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def normal_email(email: str) -> str:
    return email.strip().lower()


def check_password(password: str) -> None:
    why = passwords.problem(password)
    if why:
        raise Unprocessable("password not accepted", why)


async def by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.execute(select(User).where(User.email == normal_email(email)))).scalar_one_or_none()


async def create(session: AsyncSession, *, email: str, password: str, partner: Partner | None, role: str,
                 now_ms: int) -> User:
    """A partner user (``partner`` and a role of ROLES) or an operator user (no partner)."""
    check_password(password)
    if partner is None:
        role = "operator"
    elif role not in ROLES:
        raise Unprocessable("unknown role", f"'{role}' is not one of {', '.join(ROLES)}")
    email = normal_email(email)
    if "@" not in email or len(email) > 254:
        raise Unprocessable("invalid email", f"'{email}' is not an email address")
    if await by_email(session, email) is not None:
        raise Conflict("user exists", f"a user with the email {email} already exists")
    user = User(id=_id("usr_"), email=email, password_hash=passwords.hash_password(password),
                kind="operator" if partner is None else "partner", partner_id=partner.id if partner else None,
                role=role, created_ms=now_ms, password_changed_ms=now_ms, disabled_ms=None)
    session.add(user)
    await session.flush()
    return user


# --- signing in and sessions -------------------------------------------------------------------

@dataclass
class SignedIn:
    user: User
    cookie: str  # the session cookie's value (only its SHA-256 is stored)
    csrf: str


async def _failures(session: AsyncSession, column, value: str, since_ms: int) -> tuple[int, int]:
    row = (await session.execute(select(func.count(), func.min(SignInAttempt.at_ms))
                                 .where(column == value, SignInAttempt.at_ms >= since_ms,
                                        SignInAttempt.succeeded.is_(False)))).one()
    return int(row[0]), int(row[1] or 0)


async def sign_in(session: AsyncSession, email: str, password: str, address: str, now_ms: int
                  ) -> SignedIn | DayledgerError:
    """A new session for the right email and password, or the error to show. A wrong one of
    either answers the same message after the same work (the password is checked against a
    decoy hash when the email is unknown); too many failures per email or per address answer
    429 until the oldest of them leaves the window. The error is returned, not raised, so
    the caller commits the failure it recorded."""
    email = normal_email(email)[:254]
    since = now_ms - WINDOW_MS
    for column, value, limit in ((SignInAttempt.email, email, PER_EMAIL),
                                 (SignInAttempt.address, address, PER_ADDRESS)):
        count, oldest = await _failures(session, column, value, since)
        if count >= limit:
            minutes = max(1, -(-(oldest + WINDOW_MS - now_ms) // 60_000))
            return TooManyAttempts("too many sign-in attempts", f"try again in {minutes} minute(s)")
    user = await by_email(session, email)
    ok = passwords.verify_password(password, user.password_hash if user else passwords.decoy())
    if user is None or not ok or user.disabled_ms is not None:
        session.add(SignInAttempt(email=email, address=address[:64], at_ms=now_ms, succeeded=False))
        await session.flush()
        return SignInRefused(WRONG)
    return await start_session(session, user, now_ms)


class SignInRefused(DayledgerError):
    status = 401


async def start_session(session: AsyncSession, user: User, now_ms: int) -> SignedIn:
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(WebSession(id=digest(cookie), user_id=user.id, csrf=csrf, created_ms=now_ms,
                           expires_ms=now_ms + SESSION_DAYS * DAY_MS, last_seen_ms=now_ms))
    await session.flush()
    return SignedIn(user, cookie, csrf)


async def current(session: AsyncSession, cookie: str | None, now_ms: int) -> tuple[WebSession, User] | None:
    """The live session of a cookie and its user, or None (no, unknown, expired cookie, or
    a disabled user). A session used a day after its last renewal is renewed."""
    if not cookie or len(cookie) > 200:
        return None
    row = (await session.execute(select(WebSession, User).join(User, User.id == WebSession.user_id)
                                 .where(WebSession.id == digest(cookie)))).first()
    if row is None:
        return None
    ws, user = row
    if ws.expires_ms <= now_ms or user.disabled_ms is not None:
        return None
    if now_ms - ws.last_seen_ms > DAY_MS:
        ws.last_seen_ms, ws.expires_ms = now_ms, now_ms + SESSION_DAYS * DAY_MS
        await session.flush()
    return ws, user


async def sign_out(session: AsyncSession, cookie: str | None) -> None:
    if cookie:
        await session.execute(delete(WebSession).where(WebSession.id == digest(cookie)))


async def change_password(session: AsyncSession, user: User, current_password: str, new_password: str,
                          keep_session: str, now_ms: int) -> None:
    """After checking the current password; every other session of the user ends."""
    if not passwords.verify_password(current_password, user.password_hash):
        raise Unprocessable("wrong password", "the current password is not right")
    check_password(new_password)
    user.password_hash, user.password_changed_ms = passwords.hash_password(new_password), now_ms
    await session.execute(delete(WebSession).where(WebSession.user_id == user.id, WebSession.id != keep_session))
    await session.flush()


def principal_of(user: User, partner: Partner | None) -> Principal:
    """What a signed-in user may do, as the services know it: a partner user acts as a token
    of its role's scope (owner: full, member: channels, viewer: read); an operator user as
    an operator."""
    return Principal(token_id=f"user:{user.id}", kind=user.kind, scope=SCOPE_OF_ROLE[user.role],
                     partner_id=partner.id if partner else None, partner_name=partner.name if partner else None,
                     suspended=bool(partner and partner.status == "suspended"), user_id=user.id)


# --- a partner's people --------------------------------------------------------------------------

async def people(session: AsyncSession, partner_id: str | None) -> list[User]:
    owner = User.partner_id.is_(None) if partner_id is None else User.partner_id == partner_id
    return list((await session.execute(select(User).where(owner).order_by(User.created_ms, User.id))).scalars())


async def invite(session: AsyncSession, partner: Partner, email: str, role: str, invited_by: str | None,
                 now_ms: int) -> tuple[Invitation, str]:
    """An invitation link's secret (shown once) for ``email`` to join as ``role``."""
    if role not in ROLES:
        raise Unprocessable("unknown role", f"'{role}' is not one of {', '.join(ROLES)}")
    email = normal_email(email)
    if "@" not in email or len(email) > 254:
        raise Unprocessable("invalid email", f"'{email}' is not an email address")
    if await by_email(session, email) is not None:
        raise Conflict("user exists", f"a user with the email {email} already exists")
    raw = secrets.token_urlsafe(32)
    inv = Invitation(id=_id("inv_"), token_hash=digest(raw), partner_id=partner.id, email=email, role=role,
                     invited_by=invited_by, created_ms=now_ms, expires_ms=now_ms + INVITATION_DAYS * DAY_MS,
                     accepted_ms=None)
    session.add(inv)
    await session.flush()
    return inv, raw


async def invitation(session: AsyncSession, raw: str, now_ms: int) -> Invitation:
    inv = (await session.execute(select(Invitation).where(Invitation.token_hash == digest(raw))
                                 .with_for_update())).scalar_one_or_none()
    if inv is None or inv.accepted_ms is not None or inv.expires_ms <= now_ms:
        raise NotFound("invitation not found", "this invitation link is unknown, used or expired")
    return inv


async def accept(session: AsyncSession, raw: str, password: str, now_ms: int) -> User:
    inv = await invitation(session, raw, now_ms)
    partner = await session.get(Partner, inv.partner_id)
    user = await create(session, email=inv.email, password=password, partner=partner, role=inv.role,
                        now_ms=now_ms)
    inv.accepted_ms = now_ms
    await session.flush()
    return user


async def set_role(session: AsyncSession, partner_id: str, user_id: str, role: str) -> User:
    if role not in ROLES:
        raise Unprocessable("unknown role", f"'{role}' is not one of {', '.join(ROLES)}")
    user = await _member(session, partner_id, user_id)
    if user.role == "owner" and role != "owner":
        await _keep_an_owner(session, partner_id)
    user.role = role
    await session.flush()
    return user


async def remove(session: AsyncSession, partner_id: str | None, user_id: str, now_ms: int) -> User:
    """Disable the user and end its sessions (the row stays: history names it); partner_id
    None: an operator user."""
    user = await _member(session, partner_id, user_id)
    if user.role == "owner" and partner_id is not None:  # an owner always has its partner
        await _keep_an_owner(session, partner_id)
    user.disabled_ms = now_ms
    await session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    await session.flush()
    return user


async def _member(session: AsyncSession, partner_id: str | None, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None or user.partner_id != partner_id or user.disabled_ms is not None:
        raise NotFound("user not found", f"no user '{user_id}' in this account")
    return user


async def _keep_an_owner(session: AsyncSession, partner_id: str) -> None:
    owners = (await session.execute(select(func.count()).select_from(User).where(
        User.partner_id == partner_id, User.role == "owner", User.disabled_ms.is_(None)))).scalar_one()
    if owners <= 1:
        raise Forbidden("the last owner stays", "make another user an owner first")


async def purge(session: AsyncSession, now_ms: int) -> int:
    """Expired sessions and sign-in failures older than the window (a worker job)."""
    a = await session.execute(delete(WebSession).where(WebSession.expires_ms <= now_ms))
    b = await session.execute(delete(SignInAttempt).where(SignInAttempt.at_ms < now_ms - WINDOW_MS))
    return int(getattr(a, "rowcount", 0) or 0) + int(getattr(b, "rowcount", 0) or 0)
