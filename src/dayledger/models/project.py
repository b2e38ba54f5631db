from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (Index("ix_projects_partner", "partner_id", "created_ms"),)

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    name: Mapped[str] = mapped_column(String(200))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    # Soft delete: deleted channels in a project keep pointing at it for their history.
    deleted_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
