from __future__ import annotations

from sqlalchemy import JSON, BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class StripeEvent(Base):
    """Every verified Stripe event, stored once by its Stripe id (a redelivery finds it
    and changes nothing); processed in the transaction that stored it."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    created: Mapped[int] = mapped_column(BigInteger)  # Stripe's time of the event (seconds)
    payload: Mapped[dict] = mapped_column(JSON)
    received_ms: Mapped[int] = mapped_column(BigInteger)
    processed_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # What processing did: credited, ignored, flagged: ..., and so on (for the operator).
    outcome: Mapped[str] = mapped_column(Text, default="")
