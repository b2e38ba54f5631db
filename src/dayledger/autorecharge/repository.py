"""Queries of saved cards, auto-recharge rules and the auto-recharge top-ups in flight."""

from __future__ import annotations

from sqlalchemy import exists, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..models import AutorechargeRule, Partner, Payment, PaymentMethod

# Insert-or-nothing by Stripe's PaymentMethod id: a redelivered (or concurrent) setup
# event finds the card stored instead of failing on the primary key.
_STORE_CARD = text(
    "INSERT INTO payment_methods (id, partner_id, brand, last4, exp_month, exp_year, created_ms) "
    "VALUES (:id, :partner_id, :brand, :last4, :exp_month, :exp_year, :created_ms) "
    "ON CONFLICT (id) DO NOTHING RETURNING id")


async def store_card(session: AsyncSession, *, id: str, partner_id: str, brand: str, last4: str,
                     exp_month: int | None, exp_year: int | None, created_ms: int) -> bool:
    """Store a card; False when it was stored already."""
    stored = await session.execute(_STORE_CARD, {"id": id, "partner_id": partner_id, "brand": brand, "last4": last4,
                                                 "exp_month": exp_month, "exp_year": exp_year,
                                                 "created_ms": created_ms})
    return stored.scalar_one_or_none() is not None


async def cards(session: AsyncSession, partner_id: str) -> list[PaymentMethod]:
    """The partner's saved cards, newest first."""
    stmt = (select(PaymentMethod).where(PaymentMethod.partner_id == partner_id)
            .order_by(PaymentMethod.created_ms.desc(), PaymentMethod.id.desc()))
    return list((await session.execute(stmt)).scalars())


async def card(session: AsyncSession, partner_id: str, pm_id: str) -> PaymentMethod | None:
    """The partner's saved card, or None (also when it is another partner's)."""
    stmt = select(PaymentMethod).where(PaymentMethod.id == pm_id, PaymentMethod.partner_id == partner_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def rule(session: AsyncSession, partner_id: str, *, for_update: bool = False) -> AutorechargeRule | None:
    stmt = select(AutorechargeRule).where(AutorechargeRule.partner_id == partner_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def rearm(session: AsyncSession, now_ms: int) -> int:
    """Arm again every disarmed rule whose partner's balance is back at or above its
    threshold: the crossing it charged for (or failed on) is over."""
    recovered = exists().where(Partner.id == AutorechargeRule.partner_id,
                               Partner.balance >= AutorechargeRule.below_days)
    done = await session.execute(update(AutorechargeRule).where(AutorechargeRule.armed.is_(False), recovered)
                                 .values(armed=True, updated_ms=now_ms).execution_options(synchronize_session=False))
    return int(getattr(done, "rowcount", 0) or 0)


def _in_flight():
    """An auto-recharge top-up of the rule's partner still waiting for Stripe's word."""
    return exists().where(Payment.partner_id == AutorechargeRule.partner_id, Payment.kind == "topup",
                          Payment.source == "autorecharge", Payment.status == "pending")


async def claim_due_rules(session: AsyncSession, batch: int) -> list[tuple[AutorechargeRule, Partner]]:
    """Enabled, armed rules of active partners whose balance is below the threshold and
    who have no auto-recharge in flight, locked. ``SKIP LOCKED`` (PostgreSQL): a rule
    another worker is charging is left to it, never taken twice."""
    stmt = (select(AutorechargeRule, Partner).join(Partner, Partner.id == AutorechargeRule.partner_id)
            .where(AutorechargeRule.enabled.is_(True), AutorechargeRule.armed.is_(True), Partner.status == "active",
                   Partner.balance < AutorechargeRule.below_days, ~_in_flight())
            .order_by(AutorechargeRule.partner_id).limit(batch)
            .with_for_update(skip_locked=True, of=AutorechargeRule))
    return [(r, p) for r, p in (await session.execute(stmt)).tuples()]


async def claim_stale_payments(session: AsyncSession, before_ms: int, batch: int) -> list[Payment]:
    """Pending auto-recharge top-ups nobody has touched since ``before_ms`` (a worker
    stopped between its two transactions, Stripe did not answer, or its event never
    came), locked and skipped by other workers."""
    stmt = (select(Payment).where(Payment.kind == "topup", Payment.source == "autorecharge",
                                  Payment.status == "pending", Payment.updated_ms < before_ms)
            .order_by(Payment.updated_ms, Payment.id).limit(batch).with_for_update(skip_locked=True))
    return list((await session.execute(stmt)).scalars())


async def count_due(session: AsyncSession) -> int:
    """Rules the worker would charge now (for progress bars)."""
    stmt = (select(AutorechargeRule.partner_id).join(Partner, Partner.id == AutorechargeRule.partner_id)
            .where(AutorechargeRule.enabled.is_(True), AutorechargeRule.armed.is_(True), Partner.status == "active",
                   Partner.balance < AutorechargeRule.below_days, ~_in_flight()))
    return len((await session.execute(stmt)).all())
