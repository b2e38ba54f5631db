"""ORM tables, one file per table."""

from .api_token import ApiToken
from .autoextend_cycle import AutoextendCycle
from .autoextend_policy import AutoextendPolicy
from .autorecharge_rule import AutorechargeRule
from .base import Base
from .channel import Channel
from .event import Event
from .idempotency_key import IdempotencyKey
from .ledger_entry import LedgerEntry
from .operator_setting import OperatorSetting
from .partner import Partner
from .payment import Payment
from .payment_method import PaymentMethod
from .project import Project
from .stripe_event import StripeEvent
from .subscription import Subscription
from .webhook_attempt import WebhookAttempt
from .webhook_delivery import WebhookDelivery
from .webhook_endpoint import WebhookEndpoint

__all__ = ["ApiToken", "AutoextendCycle", "AutoextendPolicy", "AutorechargeRule", "Base", "Channel", "Event",
           "IdempotencyKey", "LedgerEntry", "OperatorSetting", "Partner", "Payment", "PaymentMethod", "Project",
           "StripeEvent", "Subscription", "WebhookAttempt", "WebhookDelivery", "WebhookEndpoint"]
