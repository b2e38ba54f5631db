from __future__ import annotations

from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Partner(Base):
    __tablename__ = "partners"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)

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
