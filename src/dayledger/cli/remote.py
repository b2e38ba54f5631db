"""dayledger remote ...: a partner's commands against a remote dayledger server, through
the Python client (``dayledger.client``). The server's URL and the token come from
``--url``/``--token`` or ``DAYLEDGER_URL``/``DAYLEDGER_TOKEN``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import typer

from ..channels.schemas import MAX_BULK_CHANNELS
from ..client import Client, DayledgerError, new_idempotency_key
from . import allocation
from .allocation import AllocationError, Row
from .common import AS_JSON, emit, err, fail, progress

app = typer.Typer(help="Work as a partner against a remote server (DAYLEDGER_URL, DAYLEDGER_TOKEN).",
                  no_args_is_help=True)
channels_app = typer.Typer(help="The partner's channels.", no_args_is_help=True)
app.add_typer(channels_app, name="channels")

URL = typer.Option(None, "--url", envvar="DAYLEDGER_URL", show_default=False,
                   help="The server's base URL, e.g. https://billing.example.com. Default: DAYLEDGER_URL.")
TOKEN = typer.Option(None, "--token", envvar="DAYLEDGER_TOKEN", show_default=False, show_envvar=False,
                     help="A partner API token. Default: DAYLEDGER_TOKEN.")
COMMENT = typer.Option(..., "--comment", show_default=False, help="Kept on the transaction, shown in the history.")
CHANNEL_COLUMNS = ["id", "name", "mode", "status", "billingStatus", "daysLeft", "validThrough", "phone"]
HISTORY_COLUMNS = ["id", "time", "type", "days", "balanceAfter", "channelId", "comment"]


def api_failure(exc: DayledgerError, prefix: str = "") -> NoReturn:
    """The error shape's message and details on stderr, exit 1."""
    fail(prefix + exc.message + (f": {exc.details}" if exc.details else "") + (f" (HTTP {exc.code})"
                                                                              if exc.code else ""))


@contextmanager
def connect(url: str | None, token: str | None) -> Iterator[Client]:
    try:
        client = Client(url, token)
    except ValueError as exc:
        fail(f"{exc} (or use --url / --token)", code=2)
    try:
        with client:
            yield client
    except DayledgerError as exc:
        api_failure(exc)


def parse_time(value: str | None, option: str) -> int | None:
    """``2026-12-01``, ``2026-12-01T10:00`` (UTC unless it says otherwise) or epoch milliseconds."""
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{option}: expected a date (2026-12-01), a date and time (2026-12-01T10:00, UTC unless it has an "
             f"offset) or milliseconds since the epoch; got {value!r}", code=2)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@channels_app.command("list")
def channels_list(mode: str | None = typer.Option(None, "--mode", help="trial, dev, dev_archive or live."),
                  state: str | None = typer.Option(None, "--state", help="running, stopped or expired."),
                  q: str | None = typer.Option(None, "--search", help="Text in the name, id or phone."),
                  project: str | None = typer.Option(None, "--project", help="Only this project's channels."),
                  as_json: bool = AS_JSON, url: str | None = URL, token: str | None = TOKEN) -> None:
    """Every channel (all pages), as a table or as JSON."""
    with connect(url, token) as client:
        rows = [ch.dump() for ch in client.channels.iter(mode=mode, state=state, q=q,  # type: ignore[arg-type]
                                                         project_id=project)]
    emit(rows, as_json, columns=CHANNEL_COLUMNS)


@channels_app.command("extend")
def channels_extend(channel_id: str = typer.Argument(..., metavar="ID", show_default=False,
                                                     help="The channel's id, e.g. FUIUNE-AHFVL."),
                    days: int = typer.Argument(..., metavar="DAYS", show_default=False,
                                               help="Days to move from the balance onto the channel (1 or more)."),
                    comment: str = COMMENT,
                    key: str | None = typer.Option(None, "--idempotency-key", show_default=False,
                                                   help="Send this key (run again with it: nothing twice). "
                                                        "Default: a new one."),
                    as_json: bool = AS_JSON, url: str | None = URL, token: str | None = TOKEN) -> None:
    """Move DAYS days from the balance onto channel ID."""
    with connect(url, token) as client:
        done = client.channels.extend(channel_id, days, comment, idempotency_key=key)
    emit({"id": channel_id, **done.dump()}, as_json, columns=["id", "daysAdded", "activeTill", "balance",
                                                                "transactionId"])


@app.command("extend-many")
def extend_many(file: Path = typer.Argument(..., metavar="FILE.csv", show_default=False,
                                            help="A CSV file with an 'id,days' header, one channel per row."),
                comment: str = COMMENT,
                batch: int | None = typer.Option(None, "--batch", min=1, max=MAX_BULK_CHANNELS, show_default=False,
                                                 help="Send N rows per call (each call all or none) after checking "
                                                      "every row first. Default: the whole file in one atomic "
                                                      "call."),
                as_json: bool = AS_JSON, url: str | None = URL, token: str | None = TOKEN) -> None:
    """Extend many channels from a CSV file: all or none (or, with --batch, batch by batch).
    A row the server refuses is named by its row number in the file."""
    try:
        rows = allocation.read(file)
    except AllocationError as exc:
        fail(str(exc), code=2)
    if batch is None and len(rows) > MAX_BULK_CHANNELS:
        fail(f"{file}: {len(rows)} rows; one atomic call takes at most {MAX_BULK_CHANNELS}: use --batch N", code=2)
    with connect(url, token) as client:
        if batch is None:
            reply = send(client, rows, comment, file)
            result = {"channels": len(reply.channels), "days": reply.days, "balance": reply.balance}
        else:
            result = send_batches(client, rows, comment, file, batch)
    emit(result, as_json, columns=["channels", "days", "balance"])


def send(client: Client, rows: list[Row], comment: str, file: Path, done: int = 0) -> Any:
    """One atomic bulk extension of ``rows``; a refusal names the rows at fault."""
    try:
        return client.channels.extend_many([(r.id, r.days) for r in rows], comment,
                                           idempotency_key=new_idempotency_key())
    except DayledgerError as exc:
        named = allocation.rows_named(rows, exc.details)
        where = "; ".join(r.where() for r in named[:allocation.MAX_LISTED])
        before = f"rows before row {rows[0].number} were extended; " if done else ""
        api_failure(exc, prefix=f"{file}: {where + ': ' if where else ''}"
                    f"{'' if done else 'nothing was extended; '}{before}")


def send_batches(client: Client, rows: list[Row], comment: str, file: Path, size: int) -> dict[str, int]:
    """Check every row against the partner's channels and balance first (so a bad row
    stops the run before any batch), then send batches of ``size``."""
    modes = {ch.id: ch.mode for ch in client.channels.iter()}
    problems = [f"{r.where()}: no such channel (or another partner's)" for r in rows if r.id not in modes]
    problems += [f"{r.where()}: a sandbox ({modes[r.id]}) channel is not extended" for r in rows
                 if modes.get(r.id) in ("dev", "dev_archive")]
    if problems:
        fail(allocation.summary(f"{file}: {len(problems)} row(s) cannot be extended; nothing was extended",
                                problems))
    needed, balance = sum(r.days for r in rows), client.partner.balance()
    if needed > balance:
        fail(f"{file}: the rows need {needed} days but the balance is {balance}; nothing was extended")
    extended = days = 0
    reply = None
    with progress(f"extending {len(rows)} channels", len(rows)) as advance:
        for start in range(0, len(rows), size):
            part = rows[start:start + size]
            reply = send(client, part, comment, file, done=extended)
            extended += len(part)
            days += reply.days
            advance(len(part))
    err.print(f"{extended} channels extended in {-(-len(rows) // size)} batch(es)")
    return {"channels": extended, "days": days, "balance": reply.balance if reply else balance}


@app.command()
def balance(as_json: bool = AS_JSON, url: str | None = URL, token: str | None = TOKEN) -> None:
    """The balance in days, its runway and any debt."""
    with connect(url, token) as client:
        profile = client.partner.get()
    emit({"partner": profile.name, "balance": profile.balance, "runwayDays": profile.runwayDays,
          "runwayUntil": profile.runwayUntil, "debtDays": profile.debtDays, "burning": profile.channels.burning},
         as_json)


@app.command()
def history(since: str | None = typer.Option(None, "--since", help="From this date/time (UTC) or epoch ms."),
            until: str | None = typer.Option(None, "--until", help="Before this date/time (UTC) or epoch ms."),
            channel: str | None = typer.Option(None, "--channel", help="Only this channel's entries."),
            type_: str | None = typer.Option(None, "--type", help="Only entries of this type (extend, topup, ...)."),
            csv: Path | None = typer.Option(None, "--csv", metavar="FILE", help="Write the history as CSV to FILE "
                                                                                "(streamed; every entry)."),
            limit: int = typer.Option(100, "--limit", min=0, help="Newest entries shown (0: all); not with --csv."),
            as_json: bool = AS_JSON, url: str | None = URL, token: str | None = TOKEN) -> None:
    """The billing history, newest first: a table, JSON, or a CSV file."""
    filters: dict[str, Any] = {"channel": channel, "type": type_, "since": parse_time(since, "--since"),
                               "until": parse_time(until, "--until")}
    with connect(url, token) as client:
        if csv is not None:
            written = client.partner.history_csv(csv, **filters)
            err.print(f"wrote {written} bytes to {csv}")
            return
        entries = []
        for entry in client.partner.iter_history(**filters, page_size=min(limit, 500) or 500):
            entries.append(entry.dump())
            if limit and len(entries) >= limit:
                break
    emit(entries, as_json, columns=HISTORY_COLUMNS)
