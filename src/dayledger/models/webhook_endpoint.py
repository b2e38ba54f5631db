from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class WebhookEndpoint(Base):
    """Where events are POSTed, signed with ``secret`` (Standard Webhooks). ``partner_id``
    None: the operator's endpoint, which hears every partner's events. ``source``:
    ``api`` (``/partners/{name}/webhooks``, ``/admin/webhooks``) or ``settings`` (the
    reference shape's ``webhooks`` list, kept in step with it)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_partner", "partner_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"), nullable=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list] = mapped_column(JSON)  # event types, or ["*"]
    description: Mapped[str] = mapped_column(String(500), default="")
    secret: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(16), default="api")
    disabled_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
