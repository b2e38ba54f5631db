"""Email notices (SPEC 7, issue 9 item 4) against a real SMTP server (aiosmtpd on a free
port): one digest per partner and round, only the types the partner chose, nothing marked
while the server is down, a refused address that blocks no one else, and no event mailed
twice by two rounds at once."""

from __future__ import annotations

import asyncio
import email
import threading
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller

from conftest import free_port

from dayledger import events
from dayledger.clock import DAY_MS
from dayledger.context import Services
from dayledger.db import Database
from dayledger.idempotency import InFlight
from dayledger.notices import service as rules
from dayledger.notices import tasks as notices
from dayledger.worker import JOBS, run_job

HOLD_S = rules.HOLD_MS // 1000


class Inbox:
    """What the SMTP server accepted; recipients containing 'bounce' are refused (550)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.delay = delay
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "bounce" in address:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        msg = email.message_from_bytes(envelope.content, policy=default_policy)
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for _, rcpts, m in self.messages if address in rcpts]


def start_smtp(inbox: Inbox, port: int | None = None) -> tuple[Controller, str]:
    port = port or free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, f"smtp://127.0.0.1:{port}"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller, url = start_smtp(inbox)
    inbox.url = url  # type: ignore[attr-defined]
    yield inbox
    controller.stop()


async def _round(settings, clock, smtp_url, *, expiring: bool = False, **overrides) -> int:
    db = Database(settings.sqlalchemy_url(), 4)
    try:
        svc = Services(settings.model_copy(update={"smtp_url": smtp_url, **overrides}), db, clock, InFlight())
        now = clock.now_ms()
        if expiring:  # the worker's expiring-notice job, as a round runs it before the mail
            await run_job(svc, next(j for j in JOBS if j.name == "expiringNotified"), now)
        return await run_job(svc, next(j for j in JOBS if j.name == "noticesEmailed"), now)
    finally:
        await db.dispose()


def run_round(settings, clock, smtp_url, *, expiring: bool = False, **overrides) -> int:
    return asyncio.run(_round(settings, clock, smtp_url, expiring=expiring, **overrides))


def parts(msg: EmailMessage) -> tuple[str, str]:
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def unmailed(db, partner) -> int:
    return db.scalar("SELECT count(*) FROM events WHERE partner_id = :p AND emailed_ms IS NULL", p=partner.id)


def emit(db, partner, type_: str, created_ms: int, payload: dict, channel_id: str | None = None) -> None:
    async def fn(session):
        await events.emit(session, partner_id=partner.id, type=type_, now_ms=created_ms, channel_id=channel_id,
                          payload=payload)
    db.run(fn)


def test_a_hundred_channels_expiring_at_once_make_one_digest(settings, clock, db, make_partner, insert_channels,
                                                              smtp):
    p = make_partner(timezone="Europe/Berlin")
    p_email = f"{p.name}@example.com"
    now = clock.now_ms()
    rows = insert_channels(p, 100, created_ms=now - DAY_MS, active_till_ms=now + 2 * DAY_MS + 3_600_000,
                           name="shop <b>&</b>")
    ids = [r["id"] for r in rows]

    run_round(settings, clock, smtp.url, expiring=True)
    assert db.scalar("SELECT count(*) FROM events WHERE partner_id = :p AND type = 'channel.expiring'",
                     p=p.id) == 100
    assert smtp.to(p_email) == [] and unmailed(db, p) == 100  # held: more may come

    clock.advance(seconds=HOLD_S)
    run_round(settings, clock, smtp.url, expiring=True)
    [msg] = smtp.to(p_email)
    assert msg["To"] == p_email and "dayledger" in msg["From"]
    assert msg["Subject"] == f"[dayledger] {p.name}: 100 channels end soon, the first in 2 days", msg["Subject"]
    assert msg["Auto-Submitted"] == "auto-generated"
    text, html = parts(msg)
    for cid in ids:
        assert text.count(cid) == 1 and html.count(cid) == 1, cid
    assert "Channels ending soon (100)" in text and "Channels ending soon (100)" in html
    assert "| 2 days\r\n" in text
    # UTC and the partner's zone; the channel's name escaped in HTML, as is in text.
    assert " UTC" in text and " CET" in text and "Ends (Europe/Berlin)" in html
    assert "shop <b>&</b> 0" in text and "shop &lt;b&gt;&amp;&lt;/b&gt; 0" in html and "<b>&" not in html
    assert f"/partners/{p.name}/notices" in text
    assert unmailed(db, p) == 0

    clock.advance(seconds=HOLD_S)
    run_round(settings, clock, smtp.url, expiring=True)
    assert len(smtp.to(p_email)) == 1  # told once


def test_only_the_chosen_types_are_mailed(settings, clock, db, make_partner, admin, insert_channels, smtp):
    chooser = make_partner(balance=10, daysLimit=5)
    silent = make_partner(balance=10, daysLimit=5)
    everything = make_partner(balance=10, daysLimit=5)
    assert chooser.put(f"/partners/{chooser.name}/notices", json={"emailEvents": ["days"]}).status_code == 200
    assert silent.put(f"/partners/{silent.name}/notices", json={"emailEvents": []}).status_code == 200
    assert everything.put(f"/partners/{everything.name}/notices", json={"emailEvents": ["*"]}).status_code == 200
    now = clock.now_ms()
    for p in (chooser, silent, everything):
        insert_channels(p, 3, created_ms=now - DAY_MS, active_till_ms=now + DAY_MS)
        r = admin.post(f"/admin/partners/{p.name}/debit", json={"days": 6, "comment": "below the limit"})
        assert r.status_code == 200, r.text  # 4 < 5: a days event
    run_round(settings, clock, smtp.url, expiring=True)
    clock.advance(seconds=HOLD_S)
    run_round(settings, clock, smtp.url)

    [mail] = smtp.to(f"{chooser.name}@example.com")
    text, html = parts(mail)
    assert "Balance below your limit" in text and "Channels ending soon" not in text
    assert mail["Subject"] == f"[dayledger] {chooser.name}: balance 4 days, below your limit of 5"
    assert smtp.to(f"{silent.name}@example.com") == []
    [mail] = smtp.to(f"{everything.name}@example.com")
    text, _ = parts(mail)
    assert "Balance below your limit (1)" in text and "Channels ending soon (3)" in text
    assert "(+3 more notices)" in mail["Subject"]
    # Every event read is marked, mailed or not.
    assert [unmailed(db, p) for p in (chooser, silent, everything)] == [0, 0, 0]


def test_urgent_notices_wait_a_minute_not_ten(settings, clock, db, make_partner, smtp):
    p = make_partner()
    emit(db, p, "autorecharge.failed", clock.now_ms(),
         {"paymentId": None, "code": "no_card", "message": "no saved card to charge"})
    run_round(settings, clock, smtp.url)
    assert smtp.to(f"{p.name}@example.com") == []
    clock.advance(seconds=rules.URGENT_HOLD_MS // 1000)
    run_round(settings, clock, smtp.url)
    [mail] = smtp.to(f"{p.name}@example.com")
    assert "auto-recharge failed: no saved card to charge" in mail["Subject"]


def test_smtp_down_marks_nothing_and_the_next_round_sends(settings, clock, db, make_partner, smtp):
    p = make_partner()
    emit(db, p, "invoice.created", clock.now_ms() - rules.HOLD_MS,
         {"invoiceId": "inv_x1", "days": 60, "channels": 2, "total": "60.00", "currency": "USD",
          "period": "2026-12", "paymentUrl": "https://pay.example/inv_x1?a=1&b=2"})
    port = free_port()
    down = f"smtp://127.0.0.1:{port}"  # nothing listens there yet
    run_round(settings, clock, down)
    assert unmailed(db, p) == 1

    inbox = Inbox()
    controller, url = start_smtp(inbox, port)
    try:
        assert url == down
        run_round(settings, clock, down)
        assert inbox.to(f"{p.name}@example.com") == [] and unmailed(db, p) == 1  # backing off
        clock.advance(seconds=notices.BACKOFF_FIRST_MS // 1000)
        run_round(settings, clock, down)
        [mail] = inbox.to(f"{p.name}@example.com")
        _, html = parts(mail)
        assert '<a href="https://pay.example/inv_x1?a=1&amp;b=2">' in html
        assert unmailed(db, p) == 0
    finally:
        controller.stop()


def test_a_refused_address_blocks_no_one_else(settings, clock, db, make_partner, smtp, admin):
    bad, good = make_partner(), make_partner()
    r = admin.patch(f"/admin/partners/{bad.name}", json={"email": f"bounce-{bad.name}@example.com"})
    assert r.status_code == 200, r.text
    for p in (bad, good):
        emit(db, p, "channel.expired", clock.now_ms() - rules.HOLD_MS,
             {"id": "ABCDEF-12345", "mode": "live", "activeTill": clock.now_ms() - rules.HOLD_MS})
    run_round(settings, clock, smtp.url)
    assert len(smtp.to(f"{good.name}@example.com")) == 1 and unmailed(db, good) == 0
    assert unmailed(db, bad) == 1  # kept for a later try
    run_round(settings, clock, smtp.url)  # the bad one backs off; the good one has nothing new
    assert len(smtp.to(f"{good.name}@example.com")) == 1


def test_without_smtp_events_are_marked_and_old_ones_are_never_mailed(settings, clock, db, make_partner, smtp):
    p = make_partner()
    emit(db, p, "days", clock.now_ms() - rules.HOLD_MS, {"balance": 1, "daysLimit": 7})
    run_round(settings, clock, None)  # no SMTP: handled, unmailed
    assert unmailed(db, p) == 0
    # A day-old event (a worker that was stopped, SMTP switched on later) is not mailed.
    emit(db, p, "days", clock.now_ms() - rules.MAX_AGE_MS - 1, {"balance": 1, "daysLimit": 7})
    run_round(settings, clock, smtp.url)
    assert smtp.to(f"{p.name}@example.com") == [] and unmailed(db, p) == 0


def test_two_rounds_at_once_mail_each_event_once(settings, clock, db, make_partner):
    inbox = Inbox(delay=0.05)  # slow enough that the rounds overlap
    controller, url = start_smtp(inbox)
    partners = [make_partner() for _ in range(12)]
    for p in partners:
        for i in range(3):
            emit(db, p, "channel.expired", clock.now_ms() - rules.HOLD_MS,
                 {"id": f"CHANNL-0000{i}", "mode": "live", "activeTill": clock.now_ms() - rules.HOLD_MS})

    async def both():
        await asyncio.gather(_round(settings, clock, url), _round(settings, clock, url))
    try:
        asyncio.run(both())
        for p in partners:
            got = inbox.to(f"{p.name}@example.com")
            assert len(got) == 1, (p.name, len(got))
            text, _ = parts(got[0])
            assert "Channels stopped: their time ran out (3)" in text
            assert unmailed(db, p) == 0
    finally:
        controller.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_urls_and_login(settings, clock, db, make_partner):
    from aiosmtpd.smtp import AuthResult, LoginPassword
    from pydantic import ValidationError

    from dayledger.config import Settings
    from dayledger.notices.mailer import parse

    assert parse("smtp://mail.example").port == 25
    s = parse("smtps://bot%40example.net:p%3Ass@mail.example")
    assert (s.scheme, s.host, s.port, s.username, s.password) == ("smtps", "mail.example", 465,
                                                                  "bot@example.net", "p:ss")
    assert parse("smtp+starttls://mail.example").port == 587 and parse("smtp://mail.example:2525").port == 2525
    assert "p:ss" not in str(s)
    for bad in ("http://mail.example", "smtp://", "smtp://mail.example:99999"):
        with pytest.raises(ValidationError):
            Settings(smtp_url=bad)
    assert Settings(smtp_url="").smtp_url is None

    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"bot", b"s3cr:t")
        logins.append(ok)
        return AuthResult(success=ok)

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False, auth_required=True)
    controller.start()
    try:
        p = make_partner()
        emit(db, p, "days", clock.now_ms() - rules.URGENT_HOLD_MS, {"balance": 1, "daysLimit": 7})
        # A refused login is a server failure (aiosmtpd then stalls the session: the timeout ends it).
        run_round(settings, clock, f"smtp://bot:wrong@127.0.0.1:{port}", smtp_timeout_seconds=1.0)
        assert inbox.to(f"{p.name}@example.com") == [] and unmailed(db, p) == 1 and logins == [False]
        run_round(settings, clock, f"smtp://bot:s3cr%3At@127.0.0.1:{port}")
        assert len(inbox.to(f"{p.name}@example.com")) == 1 and logins[-1] is True and unmailed(db, p) == 0
    finally:
        controller.stop()


def test_the_worker_runs_the_job_each_round():
    assert "noticesEmailed" in [job.name for job in JOBS]
    names = [job.name for job in JOBS]
    # After the jobs that write events, so a round's notices are read in that round.
    assert names.index("noticesEmailed") > names.index("expiringNotified")


def test_every_type_reads_as_a_section(settings, clock, db, make_partner, smtp):
    """A partner that chose every type gets each one it has, in one mail, first what asks
    it to act; types with no section of their own show their payload's plain values."""
    p = make_partner(timezone="Asia/Tokyo")
    assert p.put(f"/partners/{p.name}/notices", json={"emailEvents": ["*"]}).status_code == 200
    at = clock.now_ms() - rules.HOLD_MS
    emit(db, p, "channel.created", at, {"id": "ABCDEF-00001", "mode": "trial", "projectId": "x"}, "ABCDEF-00001")
    emit(db, p, "runway.low", at, {"runwayDays": 4, "runwayUntil": "2026-12-09", "runwayNoticeDays": 7,
                                   "balance": 40, "burnPerDay": 10})
    emit(db, p, "autoextend.failed", at, {"policyId": "x", "channelId": "ABCDEF-00002", "days": 5, "balance": 2,
                                          "code": "insufficient_balance", "message": "short"}, "ABCDEF-00002")
    emit(db, p, "topup.paid", at, {"paymentId": "topup_1", "days": 30, "total": "30.00", "currency": "USD",
                                   "balance": 70})
    run_round(settings, clock, smtp.url)
    [mail] = smtp.to(f"{p.name}@example.com")
    text, html = parts(mail)
    order = [text.index(title) for title in ("Runway below your threshold (1)", "Auto-extend could not extend",
                                             "A top-up (Checkout or auto-recharge) was paid",
                                             "A channel was created (1)")]
    assert order == sorted(order), text
    assert "2026-12-09" in text and "ABCDEF-00002" in text and "topup_1" in text and "mode: trial" in text
    assert " JST" in text and "Time (Asia/Tokyo)" in html
    assert mail["Subject"] == f"[dayledger] {p.name}: the balance lasts 4 days, until 2026-12-09 (+3 more notices)"


def test_a_digest_that_cannot_be_made_blocks_no_one_else(settings, clock, db, make_partner, smtp):
    broken, fine = make_partner(), make_partner()
    at = clock.now_ms() - rules.HOLD_MS
    # A payload no section can read (an end that is not a time) fails only its partner's mail.
    emit(db, broken, "channel.expiring", at, {"id": "ABCDEF-00001", "mode": "live", "activeTill": "soon"})
    emit(db, fine, "channel.expiring", at, {"id": "ABCDEF-00002", "mode": "live", "activeTill": at + DAY_MS})
    run_round(settings, clock, smtp.url)
    assert smtp.to(f"{broken.name}@example.com") == [] and unmailed(db, broken) == 1
    assert len(smtp.to(f"{fine.name}@example.com")) == 1 and unmailed(db, fine) == 0
