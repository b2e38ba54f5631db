from __future__ import annotations

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class OperatorSetting(Base):
    """The operator's own settings by key (``billing_details``: what invoices show as
    the issuer)."""

    __tablename__ = "operator_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)
