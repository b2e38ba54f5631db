"""Reply shapes shared by the payment roads."""

from __future__ import annotations

from ..replies import Reply
from .pricing import Quote, text


class WebhookReceived(Reply):
    received: bool = True
    outcome: str


class QuoteReply(Reply):
    days: int
    unitPrice: str
    subtotal: str
    discountPercent: str
    discount: str
    total: str
    currency: str

    @classmethod
    def of(cls, q: Quote) -> QuoteReply:
        return cls(days=q.days, unitPrice=text(q.unit_price, q.currency), subtotal=text(q.subtotal, q.currency),
                   discountPercent=f"{q.discount_percent.normalize():f}", discount=text(q.discount, q.currency),
                   total=text(q.total, q.currency), currency=q.currency)
