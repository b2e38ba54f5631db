"""dayledger invoice ...: create, pay, void, generate, list (the API's service functions,
straight on the database; with DAYLEDGER_STRIPE_SECRET_KEY set, Stripe invoices too)."""

from __future__ import annotations

from typing import Any

import typer

from ..config import get_settings
from ..invoices import service
from ..invoices.schemas import GenerateRequest, InvoiceCreate, InvoicePay, InvoiceReply, Skipped
from rich.table import Table
from rich.text import Text

from .common import AS_JSON, CLI_ACTOR, emit, format_cell, format_ms, out, progress, run
from .partner import parse

app = typer.Typer(help="Invoices by channel count.", no_args_is_help=True)
# Tables show the times as UTC dates; --json keeps the replies' milliseconds.
COLUMNS = ["id", "partner", "channels", "extraDays", "days", "amount", "status", "period", "created (UTC)"]
SHOW_COLUMNS = ["id", "partner", "channels", "extraDays", "days", "unitPrice", "subtotal", "discountPercent",
                "discount", "total", "currency", "status", "period", "reference", "created (UTC)", "paid (UTC)",
                "hostedInvoiceUrl", "documentUrl"]
INVOICE_ID = typer.Argument(..., metavar="ID", help="The invoice id (inv_...).", show_default=False)


def shown(invoice: service.Invoice) -> dict[str, Any]:
    return InvoiceReply.of(invoice.payment, invoice.partner, get_settings().public_url).dump()


def table_row(invoice: dict[str, Any]) -> dict[str, Any]:
    paid = invoice["paidTS"]
    return {**invoice, "amount": f"{invoice['total']} {invoice['currency']}",
            "created (UTC)": format_ms(invoice["createdTS"]),
            "paid (UTC)": format_ms(paid) if paid is not None else None}


def output(data: dict[str, Any] | list[dict[str, Any]], as_json: bool, *, columns: list[str],
           title: str | None = None) -> None:
    if as_json:
        emit(data, True)
    elif isinstance(data, dict):
        emit(table_row(data), False, columns=columns, title=title)
    elif not data:
        out.print("(none)")
    else:
        # As common.emit's tables, but an id is never cut short: it is what the other
        # commands take.
        table = Table(title=Text(title) if title else None)
        for col in columns:
            table.add_column(Text(col), no_wrap=col == "id", min_width=24 if col == "id" else None)
        for row in map(table_row, data):
            table.add_row(*(format_cell(c, row.get(c)) for c in columns))
        out.print(table)


@app.command()
def create(partner: str = typer.Argument(..., metavar="PARTNER", help="The partner billed (its name).",
                                         show_default=False),
           channels: int = typer.Option(..., "--channels", help="Channels billed, 30 days each (1 to 100,000).",
                                        show_default=False),
           extra_days: int = typer.Option(0, "--extra-days", help="Days billed on top, not tied to channels."),
           as_json: bool = AS_JSON) -> None:
    """Invoice a partner for N channels x 30 days (+ extra days) at its agreed price."""
    data = parse(InvoiceCreate, partner=partner, channels=channels, extraDays=extra_days)

    async def fn(session, now):
        return shown(await service.create(session, data.partner, data.channels, data.extraDays, get_settings(),
                                          now))
    output(run(fn), as_json, columns=SHOW_COLUMNS)


@app.command()
def pay(invoice_id: str = INVOICE_ID,
        reference: str | None = typer.Option(None, "--reference", show_default=False,
                                             help="How it was paid, e.g. a bank transfer's reference."),
        as_json: bool = AS_JSON) -> None:
    """Mark an open invoice paid: its days are credited once."""
    data = parse(InvoicePay, reference=reference)

    async def fn(session, now):
        return shown(await service.pay(session, invoice_id, data.reference, get_settings(), actor=CLI_ACTOR,
                                       now_ms=now))
    output(run(fn), as_json, columns=SHOW_COLUMNS)


@app.command()
def void(invoice_id: str = INVOICE_ID, as_json: bool = AS_JSON) -> None:
    """Void an open invoice: it can no longer be paid."""
    async def fn(session, now):
        return shown(await service.void(session, invoice_id, get_settings(), now))
    output(run(fn), as_json, columns=SHOW_COLUMNS)


@app.command()
def generate(period: str = typer.Option(..., "--period", metavar="YYYY-MM", show_default=False,
                                        help="The month billed; each invoice-billed partner is invoiced once "
                                             "for it."),
             as_json: bool = AS_JSON) -> None:
    """Invoice every invoice-billed partner for its live channels, once per period."""
    data = parse(GenerateRequest, period=period)

    async def fn(session, now):
        total = await service.billed_count(session)
        with progress(f"invoicing {data.period}", total) as advance:
            done = await service.generate(session, data.period, get_settings(), now,
                                          on_step=lambda name: advance(label=f"invoiced: {name}"))
        return {"period": done.period, "created": [shown(i) for i in done.created],
                "skipped": [Skipped(partner=p, reason=why).dump() for p, why in done.skipped]}
    result = run(fn)
    if as_json:
        emit(result, True)
        return
    output(result["created"], False, title=f"Invoices created for {result['period']}", columns=COLUMNS)
    if result["skipped"]:
        emit(result["skipped"], False, title="Skipped", columns=["partner", "reason"])


@app.command("list")
def list_(partner: str | None = typer.Option(None, "--partner", show_default=False,
                                             help="Only this partner's invoices."),
          as_json: bool = AS_JSON) -> None:
    """Invoices, newest first."""
    async def fn(session, now):
        offset, out = 0, []
        while True:
            rows, total = await service.page(session, 500, offset, partner_name=partner)
            out += [shown(i) for i in rows]
            offset += len(rows)
            if not rows or offset >= total:
                return out
    output(run(fn), as_json, title="Invoices", columns=COLUMNS)
