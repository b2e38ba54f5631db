"""Invoices by channel count (SPEC 6): N channels are N x 30 days, plus optional extra
days, at the partner's agreed price. An invoice is ``open`` until it is paid (through
Stripe's hosted page, or marked paid by the operator) or voided; paying credits its days
once, through payments.service.credit. The API and the CLI call these functions; nothing
here commits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .. import events
from ..config import Settings
from ..errors import Conflict, NotFound
from ..ledger import Actor
from ..models import Partner, Payment
from ..partners import service as partners
from ..payments import pricing
from ..payments.service import credit, customer_id, new_id
from ..payments.stripe_api import PaymentProviderError
from . import repository, stripe_invoice
from .schemas import BillingDetails

log = logging.getLogger("dayledger.invoices")


@dataclass(frozen=True)
class Invoice:
    payment: Payment
    partner: str  # the partner's name


@dataclass
class Generated:
    period: str
    created: list[Invoice] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (partner, why)


class NothingToInvoice(Conflict):
    pass


partner_for = partners.for_principal


def quote_of(partner: Partner, days: int) -> pricing.Quote:
    # Extra days are priced like channel days: one volume quote over all the days.
    return pricing.volume_quote(days, partner.price_per_month, partner.currency, partner.discounts)


async def create(session: AsyncSession, partner_name: str, channels: int, extra_days: int, settings: Settings,
                 now_ms: int) -> Invoice:
    """An open invoice the operator writes (and its Stripe copy when Stripe is configured)."""
    partner = await partners.get(session, partner_name, for_update=True)  # one Stripe customer
    payment = await _issue(session, partner, channels, extra_days, settings, now_ms, source="operator")
    session.add(payment)
    await session.flush()
    await _created(session, payment, now_ms)
    return Invoice(payment, partner.name)


async def _created(session: AsyncSession, payment: Payment, now_ms: int) -> None:
    """``invoice.created``, in the transaction that issues the invoice."""
    await events.emit(session, partner_id=payment.partner_id, type="invoice.created", now_ms=now_ms, payload={
        "invoiceId": payment.id, "days": payment.days, "channels": payment.channels,
        "total": pricing.text(payment.total, payment.currency), "currency": payment.currency,
        "period": payment.period, "paymentUrl": payment.payment_url})


async def _issue(session: AsyncSession, partner: Partner, channels: int, extra_days: int, settings: Settings,
                 now_ms: int, *, source: str, period: str | None = None) -> Payment:
    """The invoice row, not yet added; its Stripe copy is made first, so a Stripe refusal
    (502) leaves nothing behind in dayledger."""
    days = channels * pricing.DAYS_PER_UNIT + extra_days
    q = quote_of(partner, days)
    if q.minor_total() == 0:
        raise NothingToInvoice("nothing to invoice",
                               f"{days} days at {pricing.text(q.unit_price, q.currency)} {q.currency} per 30 days "
                               "cost nothing; credit the days instead")
    invoice_id = new_id("invoice")
    payment = Payment(
        id=invoice_id, partner_id=partner.id, kind="invoice", source=source, status="open", days=days,
        channels=channels, extra_days=extra_days, period=period, unit_price=q.unit_price, subtotal=q.subtotal,
        discount_percent=q.discount_percent, discount=q.discount, total=q.total, currency=q.currency,
        clawed_days=0, created_ms=now_ms, updated_ms=now_ms)
    if settings.stripe_secret_key:
        if not partner.stripe_customer_id:  # one Stripe customer, even when two runs get here at once
            partner = await repository.lock_partner(session, partner.id)
        customer = await customer_id(session, partner, settings)
        issued = await stripe_invoice.issue(settings, customer=customer, invoice_id=invoice_id,
                                            partner_id=partner.id, channels=channels, extra_days=extra_days,
                                            quote=q)
        payment.stripe_invoice, payment.payment_url = issued.id, issued.hosted_url
    return payment


async def show(session: AsyncSession, invoice_id: str, *, partner: Partner | None = None,
               for_update: bool = False) -> Invoice:
    found = await repository.one(session, invoice_id, partner_id=partner.id if partner else None,
                                 for_update=for_update)
    if found is None:
        owner = f"partner '{partner.name}' has" if partner else "there is"
        raise NotFound("invoice not found", f"{owner} no invoice '{invoice_id}'")
    return Invoice(*found)


async def page(session: AsyncSession, count: int, offset: int, *, partner_name: str | None = None,
               partner: Partner | None = None, status: str | None = None,
               period: str | None = None) -> tuple[list[Invoice], int]:
    if partner is None and partner_name is not None:
        partner = await partners.get(session, partner_name)
    rows, total = await repository.page(session, count, offset, partner_id=partner.id if partner else None,
                                        status=status, period=period)
    return [Invoice(p, name) for p, name in rows], total


async def pay(session: AsyncSession, invoice_id: str, reference: str | None, settings: Settings, *, actor: Actor,
              now_ms: int) -> Invoice:
    """The operator records the payment: the days are credited once, whoever else (a
    second click, Stripe's event) tries at the same time; they wait for this row lock
    and then find it paid."""
    invoice = await show(session, invoice_id, for_update=True)
    payment = invoice.payment
    _require_open(payment)
    if payment.stripe_invoice:
        await stripe_invoice.paid_elsewhere(settings, payment.stripe_invoice, payment.id)
    payment.reference = reference
    how = f"marked paid by the operator (reference: {reference})" if reference else "marked paid by the operator"
    await credit(session, payment, actor=actor, now_ms=now_ms, comment=f"{describe(payment)}, {how}")
    return invoice


async def void(session: AsyncSession, invoice_id: str, settings: Settings, now_ms: int) -> Invoice:
    invoice = await show(session, invoice_id, for_update=True)
    payment = invoice.payment
    _require_open(payment)
    if payment.stripe_invoice:
        await stripe_invoice.void(settings, payment.stripe_invoice, payment.id)
    payment.status = "void"
    payment.updated_ms = now_ms
    await session.flush()
    return invoice


def _require_open(payment: Payment) -> None:
    if payment.paid_ms is not None:
        raise Conflict("invoice already paid", f"invoice {payment.id} was paid and its {payment.days} days credited")
    if payment.status != "open":
        raise Conflict(f"invoice is {payment.status}", f"invoice {payment.id} is {payment.status}: only an open "
                                                       "invoice can be paid or voided")


def describe(payment: Payment) -> str:
    return (f"invoice {payment.id}: {payment.channels} channels x 30 days + {payment.extra_days} days"
            + (f" ({payment.period})" if payment.period else ""))


async def billed_count(session: AsyncSession) -> int:
    return await repository.billed_count(session)


async def generate(session: AsyncSession, period: str, settings: Settings, now_ms: int,
                   on_step: Callable[[str], Any] | None = None) -> Generated:
    """One invoice per invoice-billed partner for ``period``, for the live channels it has
    now, at most once per partner and period (a unique index keeps it so when two runs
    race). A partner Stripe refuses is skipped with Stripe's reason; run again to retry it."""
    done = Generated(period)
    for partner in await repository.billed_partners(session):
        why = await _generate_one(session, partner, period, settings, now_ms, done)
        if why:
            done.skipped.append((partner.name, why))
        if on_step:
            on_step(partner.name)
    return done


async def _generate_one(session: AsyncSession, partner: Partner, period: str, settings: Settings, now_ms: int,
                        done: Generated) -> str | None:
    existing = await repository.of_period(session, partner.id, period)
    if existing is not None:
        return f"already invoiced for {period}: {existing.id} ({existing.status})"
    channels = await repository.live_channels(session, partner.id)
    if channels == 0:
        return "no live channels"
    try:
        payment = await _issue(session, partner, channels, 0, settings, now_ms, source="generated", period=period)
    except (NothingToInvoice, PaymentProviderError) as exc:
        return f"{exc.message}: {exc.details}"
    try:
        async with session.begin_nested():
            session.add(payment)
    except IntegrityError:
        # Another run invoiced this partner for the period in the meantime: ours is void.
        if payment.stripe_invoice:
            await _void_quietly(settings, payment)
        return f"already invoiced for {period} (by a run at the same time)"
    await _created(session, payment, now_ms)
    done.created.append(Invoice(payment, partner.name))
    return None


async def _void_quietly(settings: Settings, payment: Payment) -> None:
    assert payment.stripe_invoice
    try:
        await stripe_invoice.void(settings, payment.stripe_invoice, payment.id)
    except PaymentProviderError as exc:
        log.warning("could not void Stripe invoice %s of unused invoice %s: %s", payment.stripe_invoice,
                    payment.id, exc.details)


async def set_partner_details(session: AsyncSession, partner_name: str, details: BillingDetails) -> dict[str, Any]:
    partner = await partners.get(session, partner_name, for_update=True)
    partner.billing_details = details.stored()
    await session.flush()
    return partner.billing_details


async def issuer_details(session: AsyncSession) -> dict[str, Any]:
    return await repository.setting(session, repository.BILLING_DETAILS) or {}


async def set_issuer_details(session: AsyncSession, details: BillingDetails) -> dict[str, Any]:
    await repository.put_setting(session, repository.BILLING_DETAILS, details.stored())
    return details.stored()


async def document(session: AsyncSession, invoice: Invoice) -> tuple[dict[str, Any], dict[str, Any]]:
    """The issuer's and the billed partner's details, for the invoice document."""
    partner = await partners.get(session, invoice.partner)
    return await issuer_details(session), {"name": partner.name, "accountEmail": partner.email,
                                           **(partner.billing_details or {})}
