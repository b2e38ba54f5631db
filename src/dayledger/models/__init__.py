"""ORM tables, one file per table."""

from .api_token import ApiToken
from .autoextend_cycle import AutoextendCycle
from .autoextend_policy import AutoextendPolicy
from .autorecharge_rule import AutorechargeRule
from .base import Base
from .channel import Channel
from .event import Event
from .idempotency_key import IdempotencyKey
from .invitation import Invitation
from .ledger_entry import LedgerEntry
from .operator_setting import OperatorSetting
from .partner import Partner
from .payment import Payment
from .payment_method import PaymentMethod
from .project import Project
from .sign_in_attempt import SignInAttempt
from .stripe_event import StripeEvent
from .subscription import Subscription
from .user import User
from .webhook_attempt import WebhookAttempt
from .webhook_delivery import WebhookDelivery
from .web_session import WebSession
from .webhook_endpoint import WebhookEndpoint

__all__ = ["ApiToken", "AutoextendCycle", "AutoextendPolicy", "AutorechargeRule", "Base", "Channel", "Event",
           "IdempotencyKey", "Invitation", "LedgerEntry", "OperatorSetting", "Partner", "Payment", "PaymentMethod",
           "Project", "SignInAttempt", "StripeEvent", "Subscription", "User", "WebSession", "WebhookAttempt",
           "WebhookDelivery", "WebhookEndpoint"]
