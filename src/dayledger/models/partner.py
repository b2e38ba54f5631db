from __future__ import annotations

from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Partner(Base):
    __tablename__ = "partners"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),
                      CheckConstraint("debt_days >= 0", name="debt_not_negative"))

    id: Mapped[str] = mapped_column(String(28), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    price_per_month: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    trial_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    trial_days: Mapped[int] = mapped_column(Integer)
    days_limit: Mapped[int] = mapped_column(Integer)
    sandbox_limit: Mapped[int] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    status: Mapped[str] = mapped_column(String(16), default="active")
    # Reference-shape partner settings: webhooks list and noChat.
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    # Days owed after a refund or dispute took back more than the balance held; the next
    # credit pays it first (written only by the ledger, like balance).
    debt_days: Mapped[int] = mapped_column(BigInteger, default=0)
    # Pricing set by the operator: volume tiers [{"fromDays": 900, "percent": "5"}] and the
    # discount of annual subscriptions.
    discounts: Mapped[list] = mapped_column(JSON, default=list)
    annual_discount_percent: Mapped[Decimal] = mapped_column(Numeric(7, 4), default=Decimal(0))
    # Billed by invoice every period (POST /admin/invoices/generate).
    invoice_billing: Mapped[bool] = mapped_column(Boolean, default=False)
    # Company, address, tax id: shown on invoices.
    billing_details: Mapped[dict] = mapped_column(JSON, default=dict)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Notices: ``days`` fired for the current fall below days_limit (re-armed when the
    # balance is back at or above it); how many days before its end a channel is
    # ``channel.expiring``; the runway under which ``runway.low`` fires, and whether it
    # has for the current fall; the event types mailed to ``email`` (None: the defaults).
    days_alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    expiring_notice_days: Mapped[int] = mapped_column(Integer, default=3)
    runway_notice_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    runway_alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    email_notices: Mapped[list | None] = mapped_column(JSON, nullable=True)
