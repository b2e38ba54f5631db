from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Subscription(Base):
    """One channel paid by its own Stripe subscription (month or year)."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("ix_subscriptions_channel", "channel_id", "created_ms"),
        Index("uq_subscriptions_stripe", "stripe_subscription", unique=True),
        Index("uq_subscriptions_checkout", "stripe_checkout_session", unique=True),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    channel_id: Mapped[str] = mapped_column(String(12))
    interval: Mapped[str] = mapped_column(String(8))  # month | year
    # pending (checkout not completed) | active | canceling (at period end) | canceled | expired
    status: Mapped[str] = mapped_column(String(16))
    days_per_period: Mapped[int] = mapped_column(BigInteger)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    discount_percent: Mapped[Decimal] = mapped_column(Numeric(7, 4))
    total: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    currency: Mapped[str] = mapped_column(String(3))
    payment_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    stripe_checkout_session: Mapped[str | None] = mapped_column(String(255), nullable=True)
    stripe_subscription: Mapped[str | None] = mapped_column(String(255), nullable=True)
    current_period_end_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
