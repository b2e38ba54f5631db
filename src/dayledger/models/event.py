from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Event(Base):
    """Outbox: events written in the transaction of the change that caused them."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_partner", "partner_id", "id"),
        # What the fan-out jobs still have to read: webhooks, and email.
        Index("ix_events_webhooks_pending", "id", sqlite_where=text("webhooks_ms IS NULL"),
              postgresql_where=text("webhooks_ms IS NULL")),
        Index("ix_events_email_pending", "id", sqlite_where=text("emailed_ms IS NULL"),
              postgresql_where=text("emailed_ms IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(28))
    type: Mapped[str] = mapped_column(String(40))
    channel_id: Mapped[str | None] = mapped_column(String(12), nullable=True)
    payload: Mapped[dict] = mapped_column(JSON)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    # When the webhook fan-out and the email notices handled it (None: not yet).
    webhooks_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    emailed_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
