"""Queries of invoices (payments of kind ``invoice``), of the channels an invoice counts,
and of the operator's billing details."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from .. import paging
from ..models import Channel, OperatorSetting, Partner, Payment

BILLING_DETAILS = "billing_details"  # the operator_settings key of the issuer's details


async def one(session: AsyncSession, invoice_id: str, *, partner_id: str | None = None,
              for_update: bool = False) -> tuple[Payment, str] | None:
    """The invoice with its partner's name, or None (also when ``partner_id`` is given and
    it is another partner's)."""
    stmt = (select(Payment, Partner.name).join(Partner, Partner.id == Payment.partner_id)
            .where(Payment.id == invoice_id, Payment.kind == "invoice"))
    if partner_id is not None:
        stmt = stmt.where(Payment.partner_id == partner_id)
    if for_update:
        stmt = stmt.with_for_update(of=Payment)
    row = (await session.execute(stmt)).one_or_none()
    return (row[0], row[1]) if row else None


async def page(session: AsyncSession, count: int, offset: int, *, partner_id: str | None = None,
               status: str | None = None, period: str | None = None) -> tuple[list[tuple[Payment, str]], int]:
    """Invoices with their partners' names, newest first."""
    stmt = select(Payment, Partner.name).join(Partner, Partner.id == Payment.partner_id).where(
        Payment.kind == "invoice")
    if partner_id is not None:
        stmt = stmt.where(Payment.partner_id == partner_id)
    if status:
        stmt = stmt.where(Payment.status == status)
    if period:
        stmt = stmt.where(Payment.period == period)
    rows, total = await paging.page(session, stmt, count, offset, Payment.created_ms.desc(), Payment.id.desc(),
                                    scalars=False)
    return [(p, name) for p, name in rows], total


async def of_period(session: AsyncSession, partner_id: str, period: str) -> Payment | None:
    stmt = select(Payment).where(Payment.partner_id == partner_id, Payment.period == period)
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_partner(session: AsyncSession, partner_id: str) -> Partner:
    """The partner row locked, its attributes re-read (the session may hold an older copy)."""
    stmt = select(Partner).where(Partner.id == partner_id).with_for_update().execution_options(
        populate_existing=True)
    return (await session.execute(stmt)).scalar_one()


def billed_partners_query() -> Any:
    return select(Partner).where(Partner.invoice_billing.is_(True))


async def billed_partners(session: AsyncSession) -> list[Partner]:
    """The partners billed by invoice every period, by name."""
    return list((await session.execute(billed_partners_query().order_by(Partner.name))).scalars())


async def billed_count(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(billed_partners_query().subquery()))).scalar_one()


async def live_channels(session: AsyncSession, partner_id: str) -> int:
    """What a generated invoice bills: the partner's channels in mode ``live`` that are
    not deleted (stopped and expired ones included: they are still the partner's, and
    the days bought can start them again)."""
    stmt = select(func.count()).select_from(Channel).where(
        Channel.partner_id == partner_id, Channel.mode == "live", Channel.deleted_ms.is_(None))
    return (await session.execute(stmt)).scalar_one()


async def setting(session: AsyncSession, key: str) -> dict[str, Any] | None:
    row = await session.get(OperatorSetting, key)
    return row.value if row else None


async def put_setting(session: AsyncSession, key: str, value: dict[str, Any]) -> None:
    """Insert or replace one operator setting (one statement: two first writes at once
    cannot collide)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(OperatorSetting).values(key=key, value=value)
    await session.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value}))
    # The ORM may hold the row from an earlier read in this session: forget it.
    cached = await session.get(OperatorSetting, key)
    if cached is not None:
        await session.refresh(cached)
