"""dayledger partner ...: create, show, list, credit, debit, suspend, resume."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import typer
from pydantic import ValidationError

from ..auth import service as auth
from ..config import get_settings
from ..partners import service, views
from ..partners.schemas import DaysChange, PartnerCreate, PartnerProfile
from .common import AS_JSON, CLI_ACTOR, emit, fail, run

app = typer.Typer(help="Partner accounts.", no_args_is_help=True)
PROFILE_COLUMNS = ["name", "id", "email", "balance", "currency", "pricePerMonth", "trialEligible", "status"]
SHOW_COLUMNS = PROFILE_COLUMNS + ["runwayDays", "creationTS"]
NAME = typer.Argument(..., metavar="NAME", help="The partner's name (as in /partners/NAME).", show_default=False)


def parse(model: Any, **fields: Any) -> Any:
    try:
        return model(**fields)
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))


@app.command()
def create(name: str = typer.Argument(..., metavar="NAME", help="Name of the new partner, unique; used in its URLs.",
                                      show_default=False),
           email: str = typer.Option(..., "--email", help="Billing contact e-mail address.", show_default=False),
           trial: bool = typer.Option(False, "--trial", help="Make the partner eligible for free trial channels."),
           price_per_month: str | None = typer.Option(
               None, "--price-per-month", show_default=False,
               help="Price of one channel for 30 days, a decimal amount. Default: "
                    "DAYLEDGER_DEFAULT_PRICE_PER_MONTH (30.00)."),
           currency: str | None = typer.Option(
               None, "--currency", show_default=False,
               help="ISO currency code of that price. Default: DAYLEDGER_DEFAULT_CURRENCY (USD)."),
           as_json: bool = AS_JSON) -> None:
    """Create a partner with its default project and a full-scope API token."""
    price = None
    if price_per_month is not None:
        try:
            price = Decimal(price_per_month)
        except InvalidOperation:
            fail(f"--price-per-month must be a decimal amount, not {price_per_month!r}")
    data = parse(PartnerCreate, name=name, email=email, trialEligible=trial, pricePerMonth=price,
                 currency=currency)

    async def fn(session, now):
        partner, project_id = await service.create(session, data, get_settings(), now)
        token = await auth.issue(session, kind="partner", scope="full", now_ms=now,
                                 partner_id=partner.id, name="created with partner")
        profile = (await views.profile(session, partner, now)).dump()
        return {**profile, "projectId": project_id, "token": token.token, "tokenId": token.id}

    result = run(fn)
    emit(result, as_json, columns=PROFILE_COLUMNS + ["projectId", "token"])
    if not as_json:
        typer.echo("Keep the token now: it is not shown again.", err=True)


@app.command()
def show(name: str = NAME, as_json: bool = AS_JSON) -> None:
    """One partner's profile, including its balance."""
    async def fn(session, now):
        partner = await service.get(session, name)
        return (await views.profile(session, partner, now)).dump()
    emit(run(fn), as_json, columns=SHOW_COLUMNS)


def _set_status(name: str, status: str, as_json: bool) -> None:
    async def fn(session, now):
        partner = await service.set_status(session, name, status)
        return (await views.profile(session, partner, now)).dump()
    emit(run(fn), as_json, columns=SHOW_COLUMNS)


@app.command()
def suspend(name: str = NAME, as_json: bool = AS_JSON) -> None:
    """Suspend a partner: its tokens may still read, every change is refused."""
    _set_status(name, "suspended", as_json)


@app.command()
def resume(name: str = NAME, as_json: bool = AS_JSON) -> None:
    """Resume a suspended partner (status active again)."""
    _set_status(name, "active", as_json)


@app.command("list")
def list_(as_json: bool = AS_JSON) -> None:
    """All partners with balances."""
    async def fn(session, now):
        offset, out = 0, []
        while True:
            rows, total = await service.page(session, 500, offset, now)
            out += [PartnerProfile.of(p, counts, now).dump() for p, counts in rows]
            offset += len(rows)
            if not rows or offset >= total:
                return out
    emit(run(fn), as_json, title="Partners", columns=PROFILE_COLUMNS + ["creationTS"])


DAYS_CREDIT = typer.Argument(..., metavar="DAYS", help="Whole days to add, 1 or more.", show_default=False)
DAYS_DEBIT = typer.Argument(..., metavar="DAYS", help="Whole days to take, 1 or more (never more than the balance).",
                            show_default=False)
COMMENT = typer.Option(..., "--comment", help="Why: kept with the ledger entry and shown in the partner's history.",
                       show_default=False)


def _change(name: str, days: int, comment: str, sign: int, as_json: bool) -> None:
    data = parse(DaysChange, days=days, comment=comment)

    async def fn(session, now):
        posted = await service.change_days(session, name, data, sign=sign, actor=CLI_ACTOR, now_ms=now,
                                           idempotency_key=None)
        return {"transactionId": posted.entry_id, "days": data.days, "balance": posted.balance_after}
    result = run(fn)
    emit({"partner": name, **result}, as_json, columns=["partner", "days", "balance", "transactionId"])


@app.command()
def credit(name: str = NAME, days: int = DAYS_CREDIT,
           comment: str = COMMENT, as_json: bool = AS_JSON) -> None:
    """Add days to a partner's balance."""
    _change(name, days, comment, +1, as_json)


@app.command()
def debit(name: str = NAME, days: int = DAYS_DEBIT,
          comment: str = COMMENT, as_json: bool = AS_JSON) -> None:
    """Take days from a partner's balance (never below zero)."""
    _change(name, days, comment, -1, as_json)
