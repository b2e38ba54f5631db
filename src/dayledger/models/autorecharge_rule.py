from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class AutorechargeRule(Base):
    """When the balance falls below ``below_days``, buy ``buy_days`` with the saved card.

    ``armed`` makes it once per crossing: the worker disarms the rule when it charges, and
    re-arms it only when the balance is back at or above ``below_days``."""

    __tablename__ = "autorecharge_rules"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    below_days: Mapped[int] = mapped_column(BigInteger)
    buy_days: Mapped[int] = mapped_column(BigInteger)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    armed: Mapped[bool] = mapped_column(Boolean, default=True)
    payment_method_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    last_payment_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_failure: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
