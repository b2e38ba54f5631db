"""Partner accounts: creation (with a default project), settings, profile, days."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .. import ids, ledger
from ..auth.service import Principal
from ..config import Settings
from ..errors import Conflict, NotFound, Unprocessable
from ..ledger import Actor, Posted
from ..models import LedgerEntry, Partner
from ..projects import service as projects
from . import repository
from .schemas import DaysChange, PartnerCreate, PartnerSettings, PartnerUpdate


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Unprocessable("unknown time zone", f"'{name}' is not an IANA time zone such as 'Europe/Berlin'") from None
    return name


async def get(session: AsyncSession, name: str, *, for_update: bool = False) -> Partner:
    partner = await repository.by_name(session, name, for_update=for_update)
    if partner is None:
        raise NotFound("partner not found", f"no partner named '{name}'")
    return partner


async def for_principal(session: AsyncSession, principal: Principal, name: str, *,
                        for_update: bool = False) -> Partner:
    """The partner named in a path: the caller's own (403 for another's name), or any one
    for the operator (404 when there is none)."""
    if principal.kind != "operator":
        principal.require_partner(name)
    return await get(session, name, for_update=for_update)


async def create(session: AsyncSession, data: PartnerCreate, settings: Settings, now_ms: int) -> tuple[Partner, str]:
    """A new partner and its default project; returns the partner and the project id."""
    check_timezone(data.timezone)
    if await repository.by_name(session, data.name) is not None:
        raise Conflict("partner exists", f"a partner named '{data.name}' already exists")
    partner = Partner(
        id=ids.partner_id(), name=data.name, email=data.email,
        currency=data.currency or settings.default_currency,
        price_per_month=(data.pricePerMonth if data.pricePerMonth is not None
                         else Decimal(settings.default_price_per_month)),
        trial_eligible=data.trialEligible,
        trial_days=data.trialDays or settings.default_trial_days,
        days_limit=data.daysLimit if data.daysLimit is not None else settings.default_days_limit,
        sandbox_limit=data.sandboxLimit if data.sandboxLimit is not None else settings.default_sandbox_limit,
        timezone=data.timezone, status="active", settings={}, created_ms=now_ms,
    )
    session.add(partner)
    try:
        await session.flush()
    except IntegrityError as exc:  # lost a race with another create of the same name
        raise Conflict("partner exists", f"a partner named '{data.name}' already exists") from exc
    project = await projects.create(session, partner.id, "Default", now_ms, is_default=True)
    return partner, project.id


FIELD_MAP = {"email": "email", "trialEligible": "trial_eligible", "pricePerMonth": "price_per_month",
             "currency": "currency", "trialDays": "trial_days", "daysLimit": "days_limit",
             "sandboxLimit": "sandbox_limit", "timezone": "timezone", "status": "status",
             "annualDiscountPercent": "annual_discount_percent", "invoiceBilling": "invoice_billing"}


async def update(session: AsyncSession, name: str, data: PartnerUpdate) -> Partner:
    partner = await get(session, name, for_update=True)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "timezone" in changes:
        check_timezone(changes["timezone"])
    if "discounts" in changes:
        partner.discounts = [{"fromDays": t.fromDays, "percent": f"{t.percent.normalize():f}"}
                             for t in sorted(data.discounts or [], key=lambda t: t.fromDays)]
        del changes["discounts"]
    if "daysLimit" in changes:
        set_days_limit(partner, changes.pop("daysLimit"))
    for field, value in changes.items():
        setattr(partner, FIELD_MAP[field], value)
    await session.flush()
    return partner


def set_days_limit(partner: Partner, limit: int) -> None:
    """The low-balance limit, from the settings or the operator: at or below the balance it
    re-arms the ``days`` notice, so the next fall below it is told (see ledger ``post``)."""
    partner.days_limit = limit
    if partner.balance >= limit:
        partner.days_alerted = False


async def change_days(session: AsyncSession, name: str, data: DaysChange, *, sign: int, actor: Actor,
                      now_ms: int, idempotency_key: str | None) -> Posted:
    """Operator credit (sign=+1) or debit (sign=-1) with a mandatory comment."""
    partner = await get(session, name)
    return await ledger.post(
        session, partner_id=partner.id, type="adjustment", balance_delta=sign * data.days,
        actor=actor, now_ms=now_ms, comment=data.comment, amount=data.amount,
        currency=data.currency, idempotency_key=idempotency_key)


async def counts_of(session: AsyncSession, partner: Partner, now_ms: int) -> dict[str, Any]:
    """The partner's channel counts (what its profile shows with the partner row)."""
    return (await repository.channel_counts(session, [partner.id], now_ms))[partner.id]


async def page(session: AsyncSession, count: int, offset: int, now_ms: int, q: str | None = None
               ) -> tuple[list[tuple[Partner, dict[str, Any]]], int]:
    rows, total = await repository.page(session, count, offset, q)
    counts = await repository.channel_counts(session, [p.id for p in rows], now_ms)
    return [(p, counts[p.id]) for p in rows], total


async def history(session: AsyncSession, partner_id: str, count: int, offset: int, **filters: Any
                  ) -> tuple[list[LedgerEntry], int]:
    """A page of the partner's ledger entries, newest first."""
    return await repository.history_page(session, repository.history_query(partner_id, **filters), count, offset)


async def update_settings(session: AsyncSession, name: str, data: PartnerSettings) -> Partner:
    partner = await get(session, name, for_update=True)
    stored = dict(partner.settings or {})
    if data.webhooks is not None:
        stored["webhooks"] = [w.model_dump() for w in data.webhooks]
    if data.noChat is not None:
        stored["noChat"] = data.noChat
    partner.settings = stored
    if data.days_limit is not None:
        set_days_limit(partner, data.days_limit)
    await session.flush()
    return partner


async def set_status(session: AsyncSession, name: str, status: str) -> Partner:
    """Suspend (``suspended``) or resume (``active``) a partner. A suspended partner's
    tokens may still read; every change is refused; its channels keep the time they have."""
    partner = await get(session, name, for_update=True)
    partner.status = status
    await session.flush()
    return partner
