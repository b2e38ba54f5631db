"""Partner accounts: creation (with a default project), settings, profile, days."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .. import ids, ledger
from ..config import Settings
from ..errors import Conflict, NotFound, Unprocessable
from ..ledger import Actor
from ..models import LedgerEntry, Partner
from ..projects import service as projects
from . import repository
from .schemas import DaysChange, PartnerCreate, PartnerUpdate


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Unprocessable("unknown time zone", f"'{name}' is not an IANA time zone such as 'Europe/Berlin'")
    return name


async def get(session: AsyncSession, name: str, *, for_update: bool = False) -> Partner:
    partner = await repository.by_name(session, name, for_update=for_update)
    if partner is None:
        raise NotFound("partner not found", f"no partner named '{name}'")
    return partner


async def create(session: AsyncSession, data: PartnerCreate, settings: Settings, now_ms: int) -> tuple[Partner, str]:
    """A new partner and its default project; returns the partner and the project id."""
    check_timezone(data.timezone)
    if await repository.by_name(session, data.name) is not None:
        raise Conflict("partner exists", f"a partner named '{data.name}' already exists")
    partner = Partner(
        id=ids.partner_id(), name=data.name, email=data.email, balance=0,
        currency=data.currency or settings.default_currency,
        price_per_month=data.pricePerMonth if data.pricePerMonth is not None else Decimal(settings.default_price_per_month),
        trial_eligible=data.trialEligible,
        trial_days=data.trialDays or settings.default_trial_days,
        days_limit=data.daysLimit if data.daysLimit is not None else settings.default_days_limit,
        sandbox_limit=data.sandboxLimit if data.sandboxLimit is not None else settings.default_sandbox_limit,
        timezone=data.timezone, status="active", settings={}, created_ms=now_ms,
    )
    session.add(partner)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("partner exists", f"a partner named '{data.name}' already exists")
    project = await projects.create(session, partner.id, "Default", now_ms, is_default=True)
    return partner, project.id


FIELD_MAP = {"email": "email", "trialEligible": "trial_eligible", "pricePerMonth": "price_per_month",
             "currency": "currency", "trialDays": "trial_days", "daysLimit": "days_limit",
             "sandboxLimit": "sandbox_limit", "timezone": "timezone", "status": "status"}


async def update(session: AsyncSession, name: str, data: PartnerUpdate) -> Partner:
    partner = await get(session, name, for_update=True)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "timezone" in changes:
        check_timezone(changes["timezone"])
    for field, value in changes.items():
        setattr(partner, FIELD_MAP[field], value)
    await session.flush()
    return partner


async def change_days(session: AsyncSession, name: str, data: DaysChange, *, sign: int, actor: Actor,
                      now_ms: int, idempotency_key: str | None) -> dict:
    """Operator credit (sign=+1) or debit (sign=-1) with a mandatory comment."""
    partner = await get(session, name)
    posted = await ledger.post(
        session, partner_id=partner.id, type="adjustment", balance_delta=sign * data.days,
        actor=actor, now_ms=now_ms, comment=data.comment, amount=data.amount,
        currency=data.currency, idempotency_key=idempotency_key)
    return {"success": True, "result": True, "transactionId": posted.entry_id,
            "days": data.days, "balance": posted.balance_after}


def money(value: Decimal | None) -> str | None:
    """A decimal string with at least two places and no rounding (24.1234 stays 24.1234)."""
    if value is None:
        return None
    exact = value.normalize()
    return f"{exact:f}" if -exact.as_tuple().exponent > 2 else f"{value.quantize(Decimal('0.01'))}"


async def profile(session: AsyncSession, partner: Partner, now_ms: int) -> dict:
    counts = (await repository.channel_counts(session, [partner.id], now_ms))[partner.id]
    return public(partner, counts)


def public(partner: Partner, counts: dict) -> dict:
    paid_running = counts["paidRunning"]
    return {
        "id": partner.id, "name": partner.name, "email": partner.email,
        "balance": partner.balance, "currency": partner.currency,
        "pricePerMonth": money(partner.price_per_month),
        "trialEligible": partner.trial_eligible, "trialDays": partner.trial_days,
        "daysLimit": partner.days_limit, "sandboxLimit": partner.sandbox_limit,
        "timezone": partner.timezone, "status": partner.status, "creationTS": partner.created_ms,
        "channels": counts,
        # Days the balance lasts if every running paid channel is kept running, one day a
        # day each (free trials and sandboxes burn nothing); null when nothing burns.
        "runwayDays": (partner.balance // paid_running) if paid_running > 0 else None,
    }


def entry_public(e: LedgerEntry) -> dict:
    return {
        "id": e.id, "time": e.created_ms, "type": e.type, "days": e.days,
        "balanceDelta": e.balance_delta, "balanceAfter": e.balance_after,
        "channelId": e.channel_id, "channelDays": e.channel_days, "comment": e.comment,
        "amount": money(e.amount), "currency": e.currency,
        "actor": {"type": e.actor_type, "id": e.actor_id}, "idempotencyKey": e.idempotency_key,
    }


CSV_COLUMNS = ["ID", "Time (UTC)", "Type", "Days", "Balance Change", "Balance After", "Channel",
               "Comment", "Amount", "Currency", "Actor"]


def entry_csv_row(e: LedgerEntry) -> list:
    from datetime import datetime, timezone
    when = datetime.fromtimestamp(e.created_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return [e.id, when, e.type, e.days, e.balance_delta, e.balance_after, e.channel_id or "",
            e.comment, money(e.amount) or "", e.currency or "", f"{e.actor_type}:{e.actor_id}"]


def settings_public(partner: Partner) -> dict:
    stored = partner.settings or {}
    return {"webhooks": stored.get("webhooks", []), "days_limit": partner.days_limit,
            "noChat": bool(stored.get("noChat", False))}


async def update_settings(session: AsyncSession, name: str, data) -> Partner:
    partner = await get(session, name, for_update=True)
    stored = dict(partner.settings or {})
    if data.webhooks is not None:
        stored["webhooks"] = [w.model_dump() for w in data.webhooks]
    if data.noChat is not None:
        stored["noChat"] = data.noChat
    partner.settings = stored
    if data.days_limit is not None:
        partner.days_limit = data.days_limit
    await session.flush()
    return partner
