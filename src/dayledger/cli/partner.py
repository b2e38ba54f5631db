"""dayledger partner ...: create, show, list, credit, debit."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import typer
from pydantic import ValidationError

from ..auth import service as auth
from ..config import get_settings
from ..partners import service
from ..partners.schemas import DaysChange, PartnerCreate, PartnerProfile
from .common import CLI_ACTOR, emit, fail, run

app = typer.Typer(help="Partner accounts.", no_args_is_help=True)
PROFILE_COLUMNS = ["name", "id", "email", "balance", "currency", "pricePerMonth", "trialEligible", "status"]


def parse(model, **fields):
    try:
        return model(**fields)
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))


@app.command()
def create(name: str, email: str = typer.Option(..., "--email"),
           trial: bool = typer.Option(False, "--trial", help="Eligible for free trials"),
           price_per_month: str = typer.Option(None, "--price-per-month"),
           currency: str = typer.Option(None, "--currency"),
           as_json: bool = typer.Option(False, "--json")) -> None:
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
        profile = PartnerProfile.of(partner, await service.counts_of(session, partner, now)).dump()
        return {**profile, "projectId": project_id, "token": token.token, "tokenId": token.id}

    result = run(fn)
    emit(result, as_json, columns=PROFILE_COLUMNS + ["projectId", "token"])
    if not as_json:
        typer.echo("Keep the token now: it is not shown again.", err=True)


@app.command()
def show(name: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """One partner's profile, including its balance."""
    async def fn(session, now):
        partner = await service.get(session, name)
        return PartnerProfile.of(partner, await service.counts_of(session, partner, now)).dump()
    emit(run(fn), as_json, columns=PROFILE_COLUMNS + ["runwayDays"])


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json")) -> None:
    """All partners with balances."""
    async def fn(session, now):
        offset, out = 0, []
        while True:
            rows, total = await service.page(session, 500, offset, now)
            out += [PartnerProfile.of(p, counts).dump() for p, counts in rows]
            offset += len(rows)
            if not rows or offset >= total:
                return out
    emit(run(fn), as_json, title="Partners", columns=PROFILE_COLUMNS)


def _change(name: str, days: int, comment: str, sign: int, as_json: bool) -> None:
    data = parse(DaysChange, days=days, comment=comment)

    async def fn(session, now):
        posted = await service.change_days(session, name, data, sign=sign, actor=CLI_ACTOR, now_ms=now,
                                           idempotency_key=None)
        return {"transactionId": posted.entry_id, "days": data.days, "balance": posted.balance_after}
    result = run(fn)
    emit({"partner": name, **result}, as_json, columns=["partner", "days", "balance", "transactionId"])


@app.command()
def credit(name: str, days: int, comment: str = typer.Option(..., "--comment"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Add days to a partner's balance."""
    _change(name, days, comment, +1, as_json)


@app.command()
def debit(name: str, days: int, comment: str = typer.Option(..., "--comment"),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Take days from a partner's balance (never below zero)."""
    _change(name, days, comment, -1, as_json)
