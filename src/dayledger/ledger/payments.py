"""Days bought with money: the credit of a paid payment, the clawback of a refund or a
dispute, and the days a won dispute gives back.

A payment's credit is one entry of its kind's type (``topup`` or ``invoice``) naming the
payment; the database refuses a second (``uq_ledger_payment_credit``), so a payment is
credited once whatever arrives twice. A clawback never drives the balance below zero: it
takes what the balance holds and records the rest as debt, which the next credit pays
first (``post``). Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..errors import NotFound
from ..models import Partner
from .service import Actor, Posted, post


@dataclass(frozen=True)
class Clawed:
    taken: int  # days taken from the balance
    owed: int  # days recorded as debt
    posted: Posted


async def credit_payment(session: AsyncSession, *, partner_id: str, type: str, days: int, payment_id: str,
                         comment: str, actor: Actor, now_ms: int, amount: Decimal | None = None,
                         currency: str | None = None) -> Posted:
    """Credit a paid payment's days to the balance (any debt is paid first)."""
    if type not in ("topup", "invoice"):
        raise ValueError(f"{type!r} is not a balance credit of a payment")
    return await post(session, partner_id=partner_id, type=type, balance_delta=days, actor=actor, now_ms=now_ms,
                      comment=comment, amount=amount, currency=currency, payment_id=payment_id)


async def clawback(session: AsyncSession, *, partner_id: str, days: int, payment_id: str, comment: str,
                   actor: Actor, now_ms: int) -> Clawed:
    """Take ``days`` back: what the balance holds now, the rest as debt."""
    balance = (await session.execute(
        select(Partner.balance).where(Partner.id == partner_id).with_for_update())).scalar_one_or_none()
    if balance is None:
        raise NotFound("partner not found")
    taken = min(balance, days)
    posted = await post(session, partner_id=partner_id, type="clawback", balance_delta=-taken, days=days,
                        debt_delta=days - taken, actor=actor, now_ms=now_ms, comment=comment,
                        payment_id=payment_id)
    return Clawed(taken=taken, owed=days - taken, posted=posted)


async def give_back(session: AsyncSession, *, partner_id: str, days: int, payment_id: str, comment: str,
                    actor: Actor, now_ms: int) -> Posted:
    """Days clawed back and then owed again (a dispute won): credited like any credit,
    so a debt the clawback left is paid first."""
    return await post(session, partner_id=partner_id, type="reinstate", balance_delta=days, actor=actor,
                      now_ms=now_ms, comment=comment, payment_id=payment_id)
