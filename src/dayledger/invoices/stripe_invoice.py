"""The Stripe copy of an invoice: created, finalized (so it has a hosted page to pay it),
marked paid out of band when the operator records a payment, voided with it.

Every create carries an idempotency key derived from the invoice id, so the library's
own retries never make two. The invoice is finalized with ``auto_advance`` off: Stripe
does not e-mail or charge anything by itself; the partner pays through the hosted page
(or by any other means the operator then records)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..payments import pricing, stripe_api

TERMS_DAYS = 30  # days until due, on Stripe's invoice and on the document


@dataclass(frozen=True)
class Issued:
    id: str
    hosted_url: str | None


def description(channels: int, extra_days: int) -> str:
    return f"{channels} channels x 30 days + {extra_days} days"


async def issue(settings: Settings, *, customer: str, invoice_id: str, partner_id: str, channels: int,
                extra_days: int, quote: pricing.Quote) -> Issued:
    """A finalized Stripe invoice for ``quote.total``; its metadata names the invoice."""
    client = stripe_api.client(settings)
    metadata = {"invoice_id": invoice_id, "partner_id": partner_id}
    # The invoice first, then its one item attached to it: pending items of the customer
    # that something else may have created are never swept in.
    invoice: Any = await stripe_api.call(client.v1.invoices.create, params={
        "customer": customer, "currency": quote.currency.lower(), "collection_method": "send_invoice",
        "days_until_due": TERMS_DAYS, "auto_advance": False, "pending_invoice_items_behavior": "exclude",
        "description": f"dayledger invoice {invoice_id}", "metadata": metadata},
        options={"idempotency_key": f"{invoice_id}-invoice"})
    await stripe_api.call(client.v1.invoice_items.create, params={
        "customer": customer, "invoice": invoice.id, "amount": quote.minor_total(),
        "currency": quote.currency.lower(), "description": description(channels, extra_days), "metadata": metadata},
        options={"idempotency_key": f"{invoice_id}-item"})
    final: Any = await stripe_api.call(client.v1.invoices.finalize_invoice, invoice.id,
                                       params={"auto_advance": False},
                                       options={"idempotency_key": f"{invoice_id}-finalize"})
    return Issued(id=final.id, hosted_url=getattr(final, "hosted_invoice_url", None))


async def paid_elsewhere(settings: Settings, stripe_invoice: str, invoice_id: str) -> None:
    """The operator recorded a payment: the hosted page must stop asking for it."""
    client = stripe_api.client(settings)
    await stripe_api.call(client.v1.invoices.pay, stripe_invoice, params={"paid_out_of_band": True},
                          options={"idempotency_key": f"{invoice_id}-paid-out-of-band"})


async def void(settings: Settings, stripe_invoice: str, invoice_id: str) -> None:
    client = stripe_api.client(settings)
    await stripe_api.call(client.v1.invoices.void_invoice, stripe_invoice,
                          options={"idempotency_key": f"{invoice_id}-void"})
