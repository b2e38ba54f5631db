"""One email for everything a partner is told at once: plain text and HTML from the
Jinja2 templates beside this file (the HTML escaped), times in UTC and the partner's
time zone, a section per event type with at most LIST_MAX lines each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from ..events import EVENT_TYPES, public_id
from ..models import Event
from .repository import Recipient

LIST_MAX = 500  # lines per section; the rest is counted
HOUR_MS = 3_600_000
# Sections in the order a partner should read them: what needs action first.
ORDER = ["days", "runway.low", "autoextend.failed", "autorecharge.failed", "channel.expired", "channel.expiring",
         "invoice.created", *EVENT_TYPES]

_TEMPLATES = Path(__file__).with_name("templates")
_HTML = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=True, undefined=StrictUndefined,
                    trim_blocks=True, lstrip_blocks=True)
_TEXT = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=False, undefined=StrictUndefined,
                    trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


@dataclass
class Section:
    type: str
    title: str
    summary: str  # also the subject when it is the first section
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    more: int = 0  # rows left out past LIST_MAX
    note: str = ""
    links: list[str] = field(default_factory=list)  # per row: a URL to show, or ""


@dataclass
class Digest:
    subject: str
    text: str
    html: str
    events: int


class Times:
    """Times as the partner reads them: UTC, and its own zone when that is another."""

    def __init__(self, timezone: str, now_ms: int) -> None:
        try:
            self.zone: ZoneInfo | None = None if timezone == "UTC" else ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = None
        self.timezone = timezone if self.zone is not None else "UTC"
        self.now_ms = now_ms

    def utc(self, ms: Any) -> str:
        return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")

    def local(self, ms: Any) -> str:
        if self.zone is None:
            return ""
        return datetime.fromtimestamp(int(ms) / 1000, tz=self.zone).strftime("%Y-%m-%d %H:%M %Z")

    def both(self, ms: Any) -> str:
        local = self.local(ms)
        return f"{self.utc(ms)} ({local})" if local else self.utc(ms)

    def left(self, till_ms: Any) -> str:
        hours = max(0, int(till_ms) - self.now_ms) // HOUR_MS
        days, hours = divmod(hours, 24)
        if days == 0:
            return f"{hours} h" if hours else "under an hour"
        return f"{plural(days, 'day')} {hours} h" if hours else plural(days, "day")


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _details(payload: dict, skip: Sequence[str] = ()) -> str:
    return ", ".join(f"{k}: {_s(v)}" for k, v in payload.items() if k not in skip and not isinstance(v, dict | list))


# --- one builder per type: the section's title, summary, columns and one row per event ----

def _channel_cells(e: Event, names: dict[str, str]) -> list[str]:
    cid = e.channel_id or _s(e.payload.get("id"))
    return [cid, names.get(cid, "")]


def _build(events: list[Event], clock: Times, names: dict[str, str]) -> Section:
    t, n = events[0].type, len(events)
    p0 = events[0].payload
    local = [f"Time ({clock.timezone})"] if clock.zone else []
    when = ["Time (UTC)", *local]

    def at(e: Event) -> list[str]:
        return [clock.utc(e.created_ms)] + ([clock.local(e.created_ms)] if clock.zone else [])

    if t == "days":
        last = events[-1].payload
        s = Section(t, "Balance below your limit",
                    f"balance {_s(last.get('balance'))} days, below your limit of {_s(last.get('daysLimit'))}",
                    [*when, "Balance (days)", "Limit (days)"],
                    note="Top up, or lower the limit, to keep your channels running.")
        s.rows = [[*at(e), _s(e.payload.get("balance")), _s(e.payload.get("daysLimit"))] for e in events]
        return s
    if t == "runway.low":
        last = events[-1].payload
        s = Section(t, "Runway below your threshold",
                    f"the balance lasts {_s(last.get('runwayDays'))} days, until {_s(last.get('runwayUntil'))}",
                    [*when, "Runway (days)", "Runs out (UTC date)", "Threshold (days)", "Balance (days)",
                     "Burn (days a day)"],
                    note="Top up, or stop channels you no longer need, before the balance runs out.")
        s.rows = [[*at(e), *(_s(e.payload.get(k)) for k in ("runwayDays", "runwayUntil", "runwayNoticeDays",
                                                             "balance", "burnPerDay"))] for e in events]
        return s
    if t == "autoextend.failed":
        s = Section(t, "Auto-extend could not extend channels: the balance is short",
                    f"auto-extend could not extend channel {_s(p0.get('channelId'))}" if n == 1
                    else f"auto-extend could not extend {n:,} channels",
                    [*when, "Channel", "Name", "Days needed", "Balance (days)"],
                    note="Top up: each policy tries again every round and extends as soon as the balance allows.")
        s.rows = [[*at(e), *_channel_cells(e, names), _s(e.payload.get("days")), _s(e.payload.get("balance"))]
                  for e in events]
        return s
    if t == "channel.expiring":
        events = sorted(events, key=lambda e: int(e.payload.get("activeTill") or 0))
        ends = ["Ends (UTC)", *([f"Ends ({clock.timezone})"] if clock.zone else [])]
        first = events[0].payload
        summary = (f"channel {_s(first.get('id'))} ends in {clock.left(first.get('activeTill') or 0)}" if n == 1
                   else f"{n:,} channels end soon, the first in {clock.left(first.get('activeTill') or 0)}")
        s = Section(t, "Channels ending soon", summary, ["Channel", "Name", "Mode", *ends, "Left"],
                    note="Extend them (POST /channels/{id}/extend) before they stop.")
        for e in events:
            till = e.payload.get("activeTill") or 0
            s.rows.append([*_channel_cells(e, names), _s(e.payload.get("mode")), clock.utc(till),
                           *([clock.local(till)] if clock.zone else []), clock.left(till)])
        return s
    if t == "channel.expired":
        ends = ["Ended (UTC)", *([f"Ended ({clock.timezone})"] if clock.zone else [])]
        s = Section(t, "Channels stopped: their time ran out",
                    f"channel {_s(p0.get('id'))} expired" if n == 1 else f"{n:,} channels expired",
                    ["Channel", "Name", "Mode", *ends], note="Extend a channel to start it again.")
        for e in events:
            till = e.payload.get("activeTill") or e.created_ms
            s.rows.append([*_channel_cells(e, names), _s(e.payload.get("mode")), clock.utc(till),
                           *([clock.local(till)] if clock.zone else [])])
        return s
    if t == "invoice.created":
        s = Section(t, "New invoices", f"invoice {_s(p0.get('invoiceId'))}" if n == 1 else f"{n:,} new invoices",
                    ["Invoice", "Period", "Days", "Channels", "Total", "Pay at"])
        for e in events:
            p = e.payload
            url = _s(p.get("paymentUrl"))
            s.rows.append([_s(p.get("invoiceId")), _s(p.get("period")), _s(p.get("days")), _s(p.get("channels")),
                           f"{_s(p.get('total'))} {_s(p.get('currency'))}".strip(), url])
            s.links.append(url if url.startswith(("https://", "http://")) else "")
        return s
    if t == "autorecharge.failed":
        s = Section(t, "Auto-recharge failed", f"auto-recharge failed: {_s(p0.get('message'))}",
                    [*when, "Code", "Why", "Days", "Total"],
                    note="Check the saved card, then set the rule again (PUT /partners/{name}/autorecharge).")
        s.rows = [[*at(e), _s(e.payload.get("code")), _s(e.payload.get("message")), _s(e.payload.get("days")),
                   f"{_s(e.payload.get('total'))} {_s(e.payload.get('currency'))}".strip()] for e in events]
        return s
    if t in ("balance.credited", "topup.paid", "invoice.paid"):
        s = Section(t, EVENT_TYPES[t][0].upper() + EVENT_TYPES[t][1:],
                    f"{_s(p0.get('days'))} days credited" if n == 1 else f"{n:,} payments credited",
                    [*when, "Payment", "Days", "Total", "Balance"])
        s.rows = [[*at(e), _s(e.payload.get("paymentId")), _s(e.payload.get("days")),
                   f"{_s(e.payload.get('total'))} {_s(e.payload.get('currency'))}".strip(),
                   _s(e.payload.get("balance"))] for e in events]
        return s
    # Any other type: what the catalogue says it means, and its payload's plain values.
    meaning = EVENT_TYPES.get(t, t)
    title = meaning[0].upper() + meaning[1:]
    has_channel = any(e.channel_id for e in events)
    s = Section(t, title, f"{t}" if n == 1 else f"{n:,} × {t}",
                [*when, *(["Channel", "Name"] if has_channel else []), "Details"])
    for e in events:
        s.rows.append([*at(e), *(_channel_cells(e, names) if has_channel else []), _details(e.payload, ("id",))])
    return s


def sections(events: list[Event], clock: Times, names: dict[str, str]) -> list[Section]:
    by_type: dict[str, list[Event]] = {}
    for e in events:
        by_type.setdefault(e.type, []).append(e)
    rank = {t: i for i, t in reversed(list(enumerate(ORDER)))}
    out = []
    for t in sorted(by_type, key=lambda t: (rank.get(t, len(ORDER)), t)):
        s = _build(by_type[t], clock, names)
        if len(s.rows) > LIST_MAX:
            s.more, s.rows, s.links = len(s.rows) - LIST_MAX, s.rows[:LIST_MAX], s.links[:LIST_MAX]
        out.append(s)
    return out


def compose(partner: Recipient, events: list[Event], names: dict[str, str], now_ms: int,
            public_url: str, sender: str) -> Digest:
    """The digest of ``events`` (one partner's, in id order). The subject and the footer
    name the sender's display name (the operator's brand in DAYLEDGER_SMTP_FROM)."""
    clock = Times(partner.timezone, now_ms)
    parts = sections(events, clock, names)
    brand = parseaddr(sender)[0] or "dayledger"
    others = len(events) - len([e for e in events if e.type == parts[0].type])
    subject = f"[{brand}] {partner.name}: {parts[0].summary}"
    if others:
        subject += f" (+{plural(others, 'more notice')})"
    context = dict(brand=brand, partner=partner, sections=parts, subject=subject, count=len(events), clock=clock,
                   now=clock.both(now_ms), public_url=public_url.rstrip("/"),
                   first_id=public_id(events[0].id), last_id=public_id(events[-1].id), plural=plural)
    return Digest(subject=subject, text=_TEXT.get_template("digest.txt").render(context),
                  html=_HTML.get_template("digest.html").render(context), events=len(events))


def message(digest: Digest, sender: str, to: str, now_ms: int) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = digest.subject
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(now_ms / 1000, usegmt=True)
    msg["Message-ID"] = make_msgid(domain="dayledger")
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(digest.text)
    msg.add_alternative(digest.html, subtype="html")
    return msg
