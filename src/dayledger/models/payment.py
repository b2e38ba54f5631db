from __future__ import annotations

from decimal import Decimal

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Payment(Base):
    """Money that buys days, whatever its road: a top-up (Checkout or auto-recharge), an
    invoice by channel count, or one paid period of a channel's subscription.

    A payment is credited at most once: its credit is the one ledger entry of type
    ``topup``, ``invoice`` or ``subscription`` that names it (a unique index on the
    ledger enforces it); ``paid_ms`` is set in the same transaction. ``verify`` checks
    both directions."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("days >= 0", name="payment_days_not_negative"),
        CheckConstraint("clawed_days >= 0", name="payment_clawed_not_negative"),
        Index("ix_payments_partner", "partner_id", "kind", "created_ms"),
        # At most one generated invoice per partner and period.
        Index("uq_payments_partner_period", "partner_id", "period", unique=True),
        Index("uq_payments_checkout", "stripe_checkout_session", unique=True),
        Index("uq_payments_intent", "stripe_payment_intent", unique=True),
        Index("uq_payments_stripe_invoice", "stripe_invoice", unique=True),
        Index("ix_payments_charge", "stripe_charge"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    kind: Mapped[str] = mapped_column(String(16))  # topup | invoice | subscription
    # topup: checkout | autorecharge; invoice: operator | generated; subscription: stripe
    source: Mapped[str] = mapped_column(String(16))
    # topup: pending | paid | expired | failed | refunded | disputed
    # invoice: open | paid | void (| refunded | disputed); subscription: paid (| refunded | disputed)
    status: Mapped[str] = mapped_column(String(16))
    days: Mapped[int] = mapped_column(BigInteger)
    channels: Mapped[int | None] = mapped_column(Integer, nullable=True)
    extra_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    channel_id: Mapped[str | None] = mapped_column(String(12), nullable=True)
    subscription_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    period: Mapped[str | None] = mapped_column(String(7), nullable=True)  # YYYY-MM of a generated invoice
    unit_price: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    subtotal: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    discount: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    total: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    currency: Mapped[str] = mapped_column(String(3))
    payment_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    stripe_checkout_session: Mapped[str | None] = mapped_column(String(255), nullable=True)
    stripe_payment_intent: Mapped[str | None] = mapped_column(String(255), nullable=True)
    stripe_invoice: Mapped[str | None] = mapped_column(String(255), nullable=True)
    stripe_charge: Mapped[str | None] = mapped_column(String(255), nullable=True)
    reference: Mapped[str | None] = mapped_column(Text, nullable=True)  # operator's reference when marked paid
    # Set when an event about this payment did not add up (amount, currency): for the operator.
    flag: Mapped[str | None] = mapped_column(Text, nullable=True)
    failure: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # a declined auto-recharge charge
    # Days taken back by refunds and disputes so far (from the balance or as debt).
    clawed_days: Mapped[int] = mapped_column(BigInteger, default=0)
    # Of those, the days an open or lost dispute took (a won dispute gives them back).
    disputed_days: Mapped[int] = mapped_column(BigInteger, default=0)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    paid_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
