"""The resources of ``AsyncClient``: one method per partner API operation, grouped as the
API groups them, each answering the server's reply model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from ._core import PAGE_SIZE, body, bulk_items, query
from .models import (BillingDetailsReply, BulkExtendReply, CardSetupReply, ChannelList, ChannelReply, DeleteReply,
                     DeliveryPage, DeliveryReply, EndpointCreated, EndpointList, EndpointReply, ExtendReply,
                     HistoryEntry, HistoryPage, InvoicePage, InvoiceReply, IssuedTokenReply, ModeReply,
                     NoticeSettingsReply, PartnerProfile, PaymentMethodList, PaymentMethodReply, PolicyReply,
                     ProjectList, ProjectReply, QuoteReply, RuleReply, SettingsReply, StopReply, SubscriptionReply,
                     Success, TestSent, TokenInfo, TokenList, TopupPage, TopupReply)

if TYPE_CHECKING:
    from ._async import AsyncClient

Mode = Literal["trial", "dev", "dev_archive", "live"]


class _Resource:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client


class AsyncChannels(_Resource):
    """Channels: the Whapi-compatible routes, bulk extension, statements and CSV export."""

    async def list(self, *, count: int = 100, offset: int = 0, mode: Mode | None = None, state: str | None = None,
                   status: str | None = None, expiring_within: int | None = None, q: str | None = None,
                   project_id: str | None = None) -> ChannelList:
        """One page (``GET /channels/list``, or ``/channels/list/{project_id}``)."""
        path = f"/channels/list/{project_id}" if project_id else "/channels/list"
        return await self._c.call(ChannelList, "GET", path, params=query(
            count=count, offset=offset, mode=mode, state=state, status=status, expiringWithin=expiring_within, q=q))

    async def iter(self, *, mode: Mode | None = None, state: str | None = None, status: str | None = None,
                   expiring_within: int | None = None, q: str | None = None, project_id: str | None = None,
                   page_size: int = PAGE_SIZE) -> AsyncIterator[ChannelReply]:
        """Every matching channel, page after page."""
        path = f"/channels/list/{project_id}" if project_id else "/channels/list"
        async for ch in self._c.pages(ChannelList, path, "channels", dict(
                mode=mode, state=state, status=status, expiringWithin=expiring_within, q=q), page_size):
            yield ch

    async def get(self, channel_id: str) -> ChannelReply:
        return await self._c.call(ChannelReply, "GET", f"/channels/{channel_id}")

    async def create(self, name: str, project_id: str = "default", *, phone: str | None = None,
                     idempotency_key: str | None = None) -> ChannelReply:
        """``PUT /channels`` (``project_id`` ``default``: the partner's default project)."""
        return await self._c.call(ChannelReply, "PUT", "/channels", json=body(name=name, projectId=project_id,
                                                                               phone=phone),
                                  idempotency_key=idempotency_key)

    async def update(self, channel_id: str, *, name: str | None = None, project_id: str | None = None,
                     phone: str | None = None, idempotency_key: str | None = None) -> Success:
        return await self._c.call(Success, "PATCH", f"/channels/{channel_id}",
                                  json=body(name=name, projectId=project_id, phone=phone),
                                  idempotency_key=idempotency_key)

    async def delete(self, channel_id: str, *, idempotency_key: str | None = None) -> DeleteReply:
        """Delete the channel; its unused paid days return to the balance (``daysReturned``)."""
        return await self._c.call(DeleteReply, "DELETE", f"/channels/{channel_id}", idempotency_key=idempotency_key)

    async def start(self, channel_id: str, *, idempotency_key: str | None = None) -> Success:
        return await self._c.call(Success, "POST", f"/channels/{channel_id}/start", idempotency_key=idempotency_key)

    async def stop(self, channel_id: str, *, save_days: bool = False, idempotency_key: str | None = None
                   ) -> StopReply:
        """Stop the channel; ``save_days``: also return its unused paid days to the balance."""
        return await self._c.call(StopReply, "POST", f"/channels/{channel_id}/stop", json={"saveDays": save_days},
                                  idempotency_key=idempotency_key)

    async def restart(self, channel_id: str, *, idempotency_key: str | None = None) -> Success:
        return await self._c.call(Success, "POST", f"/channels/{channel_id}/restart",
                                  idempotency_key=idempotency_key)

    async def extend(self, channel_id: str, days: int, comment: str, *, amount: str | None = None,
                     currency: str | None = None, idempotency_key: str | None = None) -> ExtendReply:
        """Move ``days`` from the balance onto the channel (``InsufficientBalance`` if short)."""
        return await self._c.call(ExtendReply, "POST", f"/channels/{channel_id}/extend",
                                  json=body(days=days, comment=comment, amount=amount, currency=currency),
                                  idempotency_key=idempotency_key)

    async def extend_many(self, items: Mapping[str, int] | Iterable[tuple[str, int]], comment: str, *,
                          idempotency_key: str | None = None) -> BulkExtendReply:
        """One atomic extension of many channels (``{id: days}`` or ``[(id, days), ...]``):
        all or none."""
        return await self._c.call(BulkExtendReply, "POST", "/channels/extend",
                                  json={"channels": bulk_items(items), "comment": comment},
                                  idempotency_key=idempotency_key)

    async def mode(self, channel_id: str, mode: Mode = "live", *, idempotency_key: str | None = None) -> ModeReply:
        return await self._c.call(ModeReply, "PATCH", f"/channels/{channel_id}/mode", json={"mode": mode},
                                  idempotency_key=idempotency_key)

    async def history(self, channel_id: str, *, count: int = 100, offset: int = 0, type: str | None = None,
                      since: int | None = None, until: int | None = None) -> HistoryPage:
        """One page of the channel's statement (``since``/``until``: epoch milliseconds)."""
        return await self._c.call(HistoryPage, "GET", f"/channels/{channel_id}/history", params=query(
            count=count, offset=offset, type=type, since=since, until=until))

    async def iter_history(self, channel_id: str, *, type: str | None = None, since: int | None = None,
                           until: int | None = None, page_size: int = PAGE_SIZE) -> AsyncIterator[HistoryEntry]:
        async for entry in self._c.pages(HistoryPage, f"/channels/{channel_id}/history", "history",
                                         dict(type=type, since=since, until=until), page_size):
            yield entry

    async def export_csv(self, dest: str | Path | IO[bytes], *, mode: Mode | None = None, state: str | None = None,
                         status: str | None = None, expiring_within: int | None = None, q: str | None = None
                         ) -> int:
        """``GET /channels/export.csv`` streamed into ``dest``; answers the bytes written."""
        return await self._c.download("/channels/export.csv", dest, dict(
            mode=mode, state=state, status=status, expiringWithin=expiring_within, q=q))


class AsyncProjects(_Resource):
    async def list(self, *, count: int = 100, offset: int = 0) -> ProjectList:
        return await self._c.call(ProjectList, "GET", "/projects", params={"count": count, "offset": offset})

    async def iter(self, *, page_size: int = PAGE_SIZE) -> AsyncIterator[ProjectReply]:
        async for project in self._c.pages(ProjectList, "/projects", "projects", {}, page_size):
            yield project

    async def get(self, project_id: str) -> ProjectReply:
        return await self._c.call(ProjectReply, "GET", f"/projects/{project_id}")

    async def create(self, name: str, *, idempotency_key: str | None = None) -> ProjectReply:
        return await self._c.call(ProjectReply, "PUT", "/projects", json={"name": name},
                                  idempotency_key=idempotency_key)

    async def update(self, project_id: str, name: str, *, idempotency_key: str | None = None) -> Success:
        return await self._c.call(Success, "PATCH", f"/projects/{project_id}", json={"name": name},
                                  idempotency_key=idempotency_key)

    async def delete(self, project_id: str, *, idempotency_key: str | None = None) -> Success:
        return await self._c.call(Success, "DELETE", f"/projects/{project_id}", idempotency_key=idempotency_key)


class AsyncPartner(_Resource):
    """The token's partner account: profile, balance, billing history, settings."""

    async def get(self) -> PartnerProfile:
        """The profile: ``balance``, prices, limits, channel counts, ``runwayDays``."""
        return await self._c.call(PartnerProfile, "GET", await self._c.partner_path())

    async def balance(self) -> int:
        return (await self.get()).balance

    async def history(self, *, count: int = 100, offset: int = 0, channel: str | None = None,
                      type: str | None = None, since: int | None = None, until: int | None = None) -> HistoryPage:
        """One page of the billing history, newest first (``since``/``until``: epoch ms)."""
        return await self._c.call(HistoryPage, "GET", await self._c.partner_path("/history"), params=query(
            count=count, offset=offset, channel=channel, type=type, since=since, until=until))

    async def iter_history(self, *, channel: str | None = None, type: str | None = None, since: int | None = None,
                           until: int | None = None, page_size: int = PAGE_SIZE) -> AsyncIterator[HistoryEntry]:
        async for entry in self._c.pages(HistoryPage, await self._c.partner_path("/history"), "history",
                                         dict(channel=channel, type=type, since=since, until=until), page_size):
            yield entry

    async def history_csv(self, dest: str | Path | IO[bytes], *, channel: str | None = None,
                          type: str | None = None, since: int | None = None, until: int | None = None) -> int:
        """``GET /partners/{name}/history.csv`` streamed into ``dest``; answers the bytes written."""
        return await self._c.download(await self._c.partner_path("/history.csv"), dest,
                                      dict(channel=channel, type=type, since=since, until=until))

    async def settings(self) -> SettingsReply:
        return await self._c.call(SettingsReply, "GET", await self._c.partner_path("/settings"))

    async def update_settings(self, *, webhooks: Sequence[Mapping[str, Any]] | None = None,
                              days_limit: int | None = None, no_chat: bool | None = None,
                              idempotency_key: str | None = None) -> Success:
        """The reference's settings (``webhooks`` as ``[{"url": ..., "events": [...], "mode": ...}]``)."""
        return await self._c.call(Success, "PATCH", await self._c.partner_path("/settings"),
                                  json=body(webhooks=None if webhooks is None else [dict(w) for w in webhooks],
                                            days_limit=days_limit, noChat=no_chat),
                                  idempotency_key=idempotency_key)


class AsyncTokens(_Resource):
    """The partner's API tokens (a ``full`` token is needed)."""

    async def list(self) -> TokenList:
        return await self._c.call(TokenList, "GET", await self._c.partner_path("/tokens"))

    async def create(self, *, name: str = "", scope: Literal["read", "channels", "billing", "full"] = "full",
                     expires_in_days: int | None = None, idempotency_key: str | None = None) -> IssuedTokenReply:
        """A new token; its secret is in this reply only (None in an idempotent replay)."""
        return await self._c.call(IssuedTokenReply, "POST", await self._c.partner_path("/tokens"),
                                  json=body(name=name, scope=scope, expiresInDays=expires_in_days),
                                  idempotency_key=idempotency_key)

    async def revoke(self, token_id: str, *, idempotency_key: str | None = None) -> TokenInfo:
        return await self._c.call(TokenInfo, "DELETE", await self._c.partner_path(f"/tokens/{token_id}"),
                                  idempotency_key=idempotency_key)


class AsyncTopups(_Resource):
    """Self-service top-ups paid through Stripe Checkout (days, or channels × 30)."""

    async def quote(self, *, days: int | None = None, channels: int | None = None) -> QuoteReply:
        return await self._c.call(QuoteReply, "GET", await self._c.partner_path("/topups/quote"),
                                  params=query(days=days, channels=channels))

    async def create(self, *, days: int | None = None, channels: int | None = None,
                     idempotency_key: str | None = None) -> TopupReply:
        """A top-up waiting for payment: pay at its ``paymentUrl``; the days are credited
        when Stripe confirms."""
        return await self._c.call(TopupReply, "POST", await self._c.partner_path("/topups"),
                                  json=body(days=days, channels=channels), idempotency_key=idempotency_key)

    async def list(self, *, status: str | None = None, count: int = 100, offset: int = 0) -> TopupPage:
        return await self._c.call(TopupPage, "GET", await self._c.partner_path("/topups"),
                                  params=query(status=status, count=count, offset=offset))

    async def iter(self, *, status: str | None = None, page_size: int = PAGE_SIZE) -> AsyncIterator[TopupReply]:
        async for topup in self._c.pages(TopupPage, await self._c.partner_path("/topups"), "topups",
                                         dict(status=status), page_size):
            yield topup

    async def get(self, topup_id: str) -> TopupReply:
        return await self._c.call(TopupReply, "GET", await self._c.partner_path(f"/topups/{topup_id}"))


class AsyncCards(_Resource):
    """Saved cards (payment methods) for auto-recharge."""

    async def add(self, *, idempotency_key: str | None = None) -> CardSetupReply:
        """A Stripe page (``setupUrl``) where the card is entered."""
        return await self._c.call(CardSetupReply, "POST", await self._c.partner_path("/payment-methods"),
                                  idempotency_key=idempotency_key)

    async def list(self) -> PaymentMethodList:
        return await self._c.call(PaymentMethodList, "GET", await self._c.partner_path("/payment-methods"))

    async def remove(self, payment_method_id: str, *, idempotency_key: str | None = None) -> PaymentMethodReply:
        return await self._c.call(PaymentMethodReply, "DELETE",
                                  await self._c.partner_path(f"/payment-methods/{payment_method_id}"),
                                  idempotency_key=idempotency_key)


class AsyncAutorecharge(_Resource):
    """The rule "when the balance falls below X days, buy Y days" (a saved card is charged)."""

    async def get(self) -> RuleReply:
        return await self._c.call(RuleReply, "GET", await self._c.partner_path("/autorecharge"))

    async def set(self, below_days: int, buy_days: int, *, enabled: bool = True,
                  payment_method_id: str | None = None, idempotency_key: str | None = None) -> RuleReply:
        return await self._c.call(RuleReply, "PUT", await self._c.partner_path("/autorecharge"),
                                  json={"belowDays": below_days, "buyDays": buy_days, "enabled": enabled,
                                        "paymentMethodId": payment_method_id},
                                  idempotency_key=idempotency_key)

    async def delete(self, *, idempotency_key: str | None = None) -> RuleReply:
        return await self._c.call(RuleReply, "DELETE", await self._c.partner_path("/autorecharge"),
                                  idempotency_key=idempotency_key)


class AsyncInvoices(_Resource):
    """The partner's invoices and billing details."""

    async def list(self, *, status: str | None = None, count: int = 100, offset: int = 0) -> InvoicePage:
        return await self._c.call(InvoicePage, "GET", await self._c.partner_path("/invoices"),
                                  params=query(status=status, count=count, offset=offset))

    async def iter(self, *, status: str | None = None, page_size: int = PAGE_SIZE) -> AsyncIterator[InvoiceReply]:
        async for invoice in self._c.pages(InvoicePage, await self._c.partner_path("/invoices"), "invoices",
                                           dict(status=status), page_size):
            yield invoice

    async def get(self, invoice_id: str) -> InvoiceReply:
        return await self._c.call(InvoiceReply, "GET", await self._c.partner_path(f"/invoices/{invoice_id}"))

    async def document(self, invoice_id: str) -> str:
        """The printable invoice (HTML)."""
        response = await self._c.request("GET", await self._c.partner_path(f"/invoices/{invoice_id}/document"))
        return response.text

    async def billing_details(self) -> BillingDetailsReply:
        return await self._c.call(BillingDetailsReply, "GET", await self._c.partner_path("/billing-details"))

    async def set_billing_details(self, *, company: str | None = None, address: str | None = None,
                                  tax_id: str | None = None, email: str | None = None,
                                  idempotency_key: str | None = None) -> BillingDetailsReply:
        """Replaces all four (a field left out is cleared)."""
        return await self._c.call(BillingDetailsReply, "PUT", await self._c.partner_path("/billing-details"),
                                  json={"company": company, "address": address, "taxId": tax_id, "email": email},
                                  idempotency_key=idempotency_key)


class AsyncSubscriptions(_Resource):
    """A channel's own monthly or yearly Stripe subscription."""

    async def create(self, channel_id: str, interval: Literal["month", "year"], *,
                     idempotency_key: str | None = None) -> SubscriptionReply:
        return await self._c.call(SubscriptionReply, "POST", f"/channels/{channel_id}/subscription",
                                  json={"interval": interval}, idempotency_key=idempotency_key)

    async def get(self, channel_id: str) -> SubscriptionReply:
        return await self._c.call(SubscriptionReply, "GET", f"/channels/{channel_id}/subscription")

    async def cancel(self, channel_id: str, *, idempotency_key: str | None = None) -> SubscriptionReply:
        return await self._c.call(SubscriptionReply, "DELETE", f"/channels/{channel_id}/subscription",
                                  idempotency_key=idempotency_key)


class AsyncPolicies(_Resource):
    """Auto-extend policies, "when fewer than ``below_days`` days are left, extend by
    ``extend_days``", on a channel or as its project's default."""

    @staticmethod
    def _policy(below_days: int, extend_days: int, until: str | None, budget_days: int | None,
                paused: bool) -> dict[str, Any]:
        return {"belowDays": below_days, "extendDays": extend_days, "until": until, "budgetDays": budget_days,
                "paused": paused}

    async def set_channel(self, channel_id: str, below_days: int, extend_days: int, *, until: str | None = None,
                          budget_days: int | None = None, paused: bool = False,
                          idempotency_key: str | None = None) -> PolicyReply:
        """``until``: last date (YYYY-MM-DD, UTC) it extends; ``budget_days``: most it may spend."""
        return await self._c.call(PolicyReply, "PUT", f"/channels/{channel_id}/autoextend",
                                  json=self._policy(below_days, extend_days, until, budget_days, paused),
                                  idempotency_key=idempotency_key)

    async def get_channel(self, channel_id: str) -> PolicyReply:
        return await self._c.call(PolicyReply, "GET", f"/channels/{channel_id}/autoextend")

    async def delete_channel(self, channel_id: str, *, idempotency_key: str | None = None) -> PolicyReply:
        return await self._c.call(PolicyReply, "DELETE", f"/channels/{channel_id}/autoextend",
                                  idempotency_key=idempotency_key)

    async def set_project(self, project_id: str, below_days: int, extend_days: int, *, until: str | None = None,
                          budget_days: int | None = None, paused: bool = False,
                          idempotency_key: str | None = None) -> PolicyReply:
        return await self._c.call(PolicyReply, "PUT", f"/projects/{project_id}/autoextend",
                                  json=self._policy(below_days, extend_days, until, budget_days, paused),
                                  idempotency_key=idempotency_key)

    async def get_project(self, project_id: str) -> PolicyReply:
        return await self._c.call(PolicyReply, "GET", f"/projects/{project_id}/autoextend")

    async def delete_project(self, project_id: str, *, idempotency_key: str | None = None) -> PolicyReply:
        return await self._c.call(PolicyReply, "DELETE", f"/projects/{project_id}/autoextend",
                                  idempotency_key=idempotency_key)


class AsyncNotices(_Resource):
    """Notice settings: ``channel.expiring`` lead time, ``runway.low`` threshold, events mailed."""

    async def get(self) -> NoticeSettingsReply:
        return await self._c.call(NoticeSettingsReply, "GET", await self._c.partner_path("/notices"))

    async def set(self, *, expiring_notice_days: int = 3, runway_notice_days: int | None = None,
                  email_events: Sequence[str] | None = None, idempotency_key: str | None = None
                  ) -> NoticeSettingsReply:
        """Replaces all three (a PUT): None is "never" for the runway and "the defaults" for the events."""
        return await self._c.call(NoticeSettingsReply, "PUT", await self._c.partner_path("/notices"),
                                  json={"expiringNoticeDays": expiring_notice_days,
                                        "runwayNoticeDays": runway_notice_days,
                                        "emailEvents": None if email_events is None else [*email_events]},
                                  idempotency_key=idempotency_key)


class AsyncWebhooks(_Resource):
    """Webhook endpoints (Standard Webhooks signing) and their delivery logs."""

    async def create(self, url: str, *, events: Sequence[str] | None = None, description: str = "",
                     idempotency_key: str | None = None) -> EndpointCreated:
        """A new endpoint (``events`` None: every type); its signing ``secret`` is in this reply."""
        return await self._c.call(EndpointCreated, "POST", await self._c.partner_path("/webhooks"),
                                  json={"url": url, "events": list(events or ["*"]), "description": description},
                                  idempotency_key=idempotency_key)

    async def list(self) -> EndpointList:
        return await self._c.call(EndpointList, "GET", await self._c.partner_path("/webhooks"))

    async def get(self, endpoint_id: str) -> EndpointReply:
        return await self._c.call(EndpointReply, "GET", await self._c.partner_path(f"/webhooks/{endpoint_id}"))

    async def update(self, endpoint_id: str, *, url: str | None = None, events: Sequence[str] | None = None,
                     description: str | None = None, enabled: bool | None = None,
                     idempotency_key: str | None = None) -> EndpointReply:
        return await self._c.call(EndpointReply, "PATCH", await self._c.partner_path(f"/webhooks/{endpoint_id}"),
                                  json=body(url=url, events=None if events is None else [*events],
                                            description=description, enabled=enabled),
                                  idempotency_key=idempotency_key)

    async def delete(self, endpoint_id: str, *, idempotency_key: str | None = None) -> EndpointReply:
        return await self._c.call(EndpointReply, "DELETE", await self._c.partner_path(f"/webhooks/{endpoint_id}"),
                                  idempotency_key=idempotency_key)

    async def rotate_secret(self, endpoint_id: str, *, idempotency_key: str | None = None) -> EndpointCreated:
        return await self._c.call(EndpointCreated, "POST",
                                  await self._c.partner_path(f"/webhooks/{endpoint_id}/secret"),
                                  idempotency_key=idempotency_key)

    async def test(self, endpoint_id: str, *, idempotency_key: str | None = None) -> TestSent:
        """Queue a test event to the endpoint."""
        return await self._c.call(TestSent, "POST", await self._c.partner_path(f"/webhooks/{endpoint_id}/test"),
                                  idempotency_key=idempotency_key)

    async def deliveries(self, endpoint_id: str, *, status: str | None = None, count: int = 100,
                         offset: int = 0) -> DeliveryPage:
        return await self._c.call(DeliveryPage, "GET",
                                  await self._c.partner_path(f"/webhooks/{endpoint_id}/deliveries"),
                                  params=query(status=status, count=count, offset=offset))

    async def iter_deliveries(self, endpoint_id: str, *, status: str | None = None,
                              page_size: int = PAGE_SIZE) -> AsyncIterator[DeliveryReply]:
        async for delivery in self._c.pages(DeliveryPage,
                                            await self._c.partner_path(f"/webhooks/{endpoint_id}/deliveries"),
                                            "deliveries", dict(status=status), page_size):
            yield delivery

    async def resend(self, endpoint_id: str, delivery_id: int, *, idempotency_key: str | None = None
                     ) -> DeliveryReply:
        return await self._c.call(DeliveryReply, "POST", await self._c.partner_path(
            f"/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend"), idempotency_key=idempotency_key)
