"""Request and reply shapes of saved cards and the auto-recharge rule, each defined once."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ..models import AutorechargeRule, PaymentMethod
from ..partners.schemas import Days
from ..payments.pricing import Quote
from ..payments.schemas import QuoteReply
from ..replies import Reply

# Stripe's PaymentMethod ids: pm_ and letters or digits.
PAYMENT_METHOD_PATTERN = r"^pm_[A-Za-z0-9]{1,200}$"


class CardSetupReply(Reply):
    """Open ``setupUrl`` to save a card; it is listed once Stripe says the setup succeeded."""
    setupUrl: str
    sessionId: str


class PaymentMethodReply(Reply):
    id: str
    brand: str
    last4: str
    expMonth: int | None
    expYear: int | None
    createdTS: int
    default: bool  # the card auto-recharge charges when the rule names none (the newest)

    @classmethod
    def of(cls, pm: PaymentMethod, *, default: bool) -> PaymentMethodReply:
        return cls(id=pm.id, brand=pm.brand, last4=pm.last4, expMonth=pm.exp_month, expYear=pm.exp_year,
                   createdTS=pm.created_ms, default=default)


class PaymentMethodList(Reply):
    paymentMethods: list[PaymentMethodReply]


class RuleBody(BaseModel):
    """When the balance falls below ``belowDays``, buy ``buyDays`` with the saved card."""
    model_config = ConfigDict(extra="forbid")
    belowDays: Days
    buyDays: Days
    enabled: StrictBool
    paymentMethodId: Annotated[str | None, Field(pattern=PAYMENT_METHOD_PATTERN,
                                                 description="the saved card to charge; none: the newest")] = None


class FailureReply(Reply):
    code: str
    message: str
    time: int  # UTC ms

    @classmethod
    def of(cls, failure: dict[str, Any] | None) -> FailureReply | None:
        if not failure:
            return None
        return cls(code=str(failure.get("code", "")), message=str(failure.get("message", "")),
                   time=int(failure.get("time", 0)))


class RuleReply(Reply):
    belowDays: int
    buyDays: int
    enabled: bool
    armed: bool  # false after a charge (or a failure) until the balance is back at or above belowDays
    paymentMethodId: str | None  # as the rule names it; null: the newest saved card
    quote: QuoteReply  # what buyDays cost now
    lastPaymentId: str | None
    lastFailure: FailureReply | None
    updatedTS: int

    @classmethod
    def of(cls, rule: AutorechargeRule, quote: Quote) -> RuleReply:
        return cls(belowDays=rule.below_days, buyDays=rule.buy_days, enabled=rule.enabled, armed=rule.armed,
                   paymentMethodId=rule.payment_method_id, quote=QuoteReply.of(quote),
                   lastPaymentId=rule.last_payment_id, lastFailure=FailureReply.of(rule.last_failure),
                   updatedTS=rule.updated_ms)
