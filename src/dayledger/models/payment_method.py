from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class PaymentMethod(Base):
    """A card a partner saved with Stripe (through a Checkout Session in setup mode)."""

    __tablename__ = "payment_methods"
    __table_args__ = (Index("ix_payment_methods_partner", "partner_id", "created_ms"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)  # Stripe's pm_...
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    brand: Mapped[str] = mapped_column(String(32), default="")
    last4: Mapped[str] = mapped_column(String(4), default="")
    exp_month: Mapped[int | None] = mapped_column(Integer, nullable=True)
    exp_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
