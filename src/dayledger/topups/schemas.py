"""Request and reply shapes of the top-up routes, each defined once."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from ..models import Payment
from ..partners.schemas import Days
from ..payments.pricing import text
from ..replies import Reply
from .params import MAX_CHANNELS

Channels = Annotated[StrictInt, Field(ge=1, le=MAX_CHANNELS, description="channels x 30 days")]


class TopupCreate(BaseModel):
    """Exactly one of ``days`` or ``channels`` (``channels`` buys 30 days per channel)."""
    model_config = ConfigDict(extra="forbid")
    days: Days | None = None
    channels: Channels | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> TopupCreate:
        if (self.days is None) == (self.channels is None):
            raise ValueError("send exactly one of days or channels")
        return self


class TopupReply(Reply):
    id: str
    status: str
    source: str  # checkout (a Checkout Session) or autorecharge (a saved card charged off-session)
    days: int
    channels: int | None
    unitPrice: str
    subtotal: str
    discountPercent: str
    discount: str
    total: str
    currency: str
    paymentUrl: str | None
    createdTS: int
    paidTS: int | None
    flag: str | None

    @classmethod
    def of(cls, p: Payment) -> TopupReply:
        return cls(id=p.id, status=p.status, source=p.source, days=p.days, channels=p.channels,
                   unitPrice=text(p.unit_price, p.currency), subtotal=text(p.subtotal, p.currency),
                   discountPercent=f"{p.discount_percent.normalize():f}", discount=text(p.discount, p.currency),
                   total=text(p.total, p.currency), currency=p.currency, paymentUrl=p.payment_url,
                   createdTS=p.created_ms, paidTS=p.paid_ms, flag=p.flag)


class TopupPage(Reply):
    topups: list[TopupReply]
    count: int
    offset: int
    total: int
