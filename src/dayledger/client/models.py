"""The client's reply models: the server's own, imported from the modules that define
each reply shape once (so the client cannot drift from what the server answers)."""

from __future__ import annotations

from ..auth.schemas import MeReply
from ..autoextend.schemas import PolicyReply
from ..autorecharge.schemas import CardSetupReply, PaymentMethodList, PaymentMethodReply, RuleReply
from ..channels.schemas import (BulkExtended, BulkExtendReply, ChannelList, ChannelReply, DeleteReply, ExtendReply,
                                ModeReply, StopReply)
from ..invoices.schemas import BillingDetailsReply, InvoicePage, InvoiceReply
from ..notices.schemas import NoticeSettingsReply
from ..partners.schemas import (HistoryEntry, HistoryPage, IssuedTokenReply, PartnerProfile, SettingsReply, TokenInfo,
                                TokenList)
from ..payments.schemas import QuoteReply
from ..projects.schemas import ProjectList, ProjectReply
from ..replies import ErrorReply, Reply, Success
from ..subscriptions.schemas import SubscriptionReply
from ..topups.schemas import TopupPage, TopupReply
from ..webhooks.schemas import DeliveryPage, DeliveryReply, EndpointCreated, EndpointList, EndpointReply, TestSent

__all__ = [
    "BillingDetailsReply", "BulkExtendReply", "BulkExtended", "CardSetupReply", "ChannelList", "ChannelReply",
    "DeleteReply", "DeliveryPage", "DeliveryReply", "EndpointCreated", "EndpointList", "EndpointReply", "ErrorReply",
    "ExtendReply", "HistoryEntry", "HistoryPage", "InvoicePage", "InvoiceReply", "IssuedTokenReply", "MeReply",
    "ModeReply", "NoticeSettingsReply", "PartnerProfile", "PaymentMethodList", "PaymentMethodReply", "PolicyReply",
    "ProjectList", "ProjectReply", "QuoteReply", "Reply", "RuleReply", "SettingsReply", "StopReply",
    "SubscriptionReply", "Success", "TestSent", "TokenInfo", "TokenList", "TopupPage", "TopupReply",
]
