from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Channel(Base):
    __tablename__ = "channels"
    __table_args__ = (
        Index("ix_channels_partner", "partner_id", "created_ms", "id"),  # listing order
        Index("ix_channels_project", "project_id"),
        # The expiry worker's scan: only channels that can still expire.
        Index(
            "ix_channels_expiry_due",
            "active_till_ms",
            sqlite_where=text("expired = 0 AND deleted_ms IS NULL AND mode IN ('trial', 'live')"),
            postgresql_where=text("NOT expired AND deleted_ms IS NULL AND mode IN ('trial', 'live')"),
        ),
    )

    id: Mapped[str] = mapped_column(String(12), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(200))
    token: Mapped[str] = mapped_column(String(32), unique=True)
    api_url: Mapped[str] = mapped_column(String(500))
    server: Mapped[int] = mapped_column(Integer, default=1)
    mode: Mapped[str] = mapped_column(String(16))
    stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    expired: Mapped[bool] = mapped_column(Boolean, default=False)
    active_till_ms: Mapped[int] = mapped_column(BigInteger)
    trial_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    connection_status: Mapped[str] = mapped_column(String(16), default="INIT")
    phone: Mapped[str | None] = mapped_column(String(15), nullable=True)
    recurrent_payment_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    prev_recurrent_payment_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    deleted_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The end of the paid period whose ``channel.expiring`` notice was sent (once each).
    expiring_notified_till_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
