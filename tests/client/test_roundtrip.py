"""Every client method against the real test server: each answers the server's own reply
model, with the values the server holds."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest

from conftest import DB
from dayledger.client import AsyncClient, Client, NotFound, models
from dayledger.client.models import (BulkExtendReply, ChannelList, ChannelReply, DeleteReply, ExtendReply,
                                     HistoryEntry, HistoryPage, MeReply, ModeReply, PartnerProfile, ProjectList,
                                     ProjectReply, StopReply, Success)
from payments.conftest import checkout_complete, pay_server, pay_settings, pay_url, stripe_env  # noqa: F401

DAY = 86_400_000


def test_me_names_the_tokens_partner(make_partner, client_for, base_url, operator_token):
    p = make_partner()
    me = client_for(p).me()
    assert client_for(p).partner_name() == p.name
    assert isinstance(me, MeReply)
    assert (me.kind, me.partner, me.partnerId, me.scope, me.suspended) == ("partner", p.name, p.id, "full", False)
    assert me.tokenId.startswith("tok_")
    with Client(base_url, operator_token) as op:
        me = op.me()
        assert (me.kind, me.partner, me.partnerId) == ("operator", None, None)
        with pytest.raises(ValueError, match="operator token"):
            op.partner.get()


def test_channel_methods_round_trip(make_partner, client_for, db: DB, assert_ledger_sound, tmp_path):
    p = make_partner(balance=100)
    c = client_for(p)
    ch = c.channels.create("first", phone="15550001111")
    assert isinstance(ch, ChannelReply) and ch.name == "first" and ch.mode == "trial" and ch.phone == "15550001111"
    assert c.channels.get(ch.id) == ch

    done = c.channels.extend(ch.id, days=3, comment="March")
    assert isinstance(done, ExtendReply) and (done.daysAdded, done.balance) == (3, 97)
    assert c.channels.get(ch.id).activeTill == done.activeTill
    assert db.scalar("SELECT comment FROM ledger_entries WHERE id = :i", i=done.transactionId) == "March"

    assert isinstance(c.channels.update(ch.id, name="renamed"), Success)
    assert c.channels.get(ch.id).name == "renamed"

    second = c.channels.create("second", p.project_id)
    bulk = c.channels.extend_many({ch.id: 2, second.id: 5}, "April")
    assert isinstance(bulk, BulkExtendReply) and (bulk.days, bulk.balance) == (7, 90)
    assert {b.id: b.daysAdded for b in bulk.channels} == {ch.id: 2, second.id: 5}

    page = c.channels.list(count=1)
    assert isinstance(page, ChannelList) and page.total == 2 and len(page.channels) == 1
    assert sorted(x.id for x in c.channels.iter(page_size=1)) == sorted([ch.id, second.id])
    assert [x.id for x in c.channels.iter(q="renamed")] == [ch.id]
    assert [x.id for x in c.channels.iter(project_id="default", page_size=1)] != []

    assert isinstance(c.channels.mode(ch.id, "live"), ModeReply)
    assert c.channels.get(ch.id).mode == "live"
    stopped = c.channels.stop(ch.id)
    assert isinstance(stopped, StopReply) and stopped.daysReturned == 0 and c.channels.get(ch.id).stopped
    assert isinstance(c.channels.start(ch.id), Success) and not c.channels.get(ch.id).stopped
    assert isinstance(c.channels.restart(ch.id), Success)

    hist = c.channels.history(ch.id)
    assert isinstance(hist, HistoryPage) and {h.type for h in hist.history} >= {"extend"}
    assert all(isinstance(h, HistoryEntry) and h.channelId == ch.id for h in c.channels.iter_history(ch.id))
    assert [h.days for h in c.channels.iter_history(ch.id, type="extend", page_size=1)] == [2, 3]

    out = tmp_path / "channels.csv"
    written = c.channels.export_csv(out)
    text = out.read_text()
    assert written == len(out.read_bytes()) and not (tmp_path / "channels.csv.part").exists()
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert sorted(r["ID"] for r in rows) == sorted([ch.id, second.id])
    buffer = io.BytesIO()
    assert c.channels.export_csv(buffer, q="second") == len(buffer.getvalue()) > 0
    assert second.id in buffer.getvalue().decode() and ch.id not in buffer.getvalue().decode()

    gone = c.channels.delete(second.id)
    assert isinstance(gone, DeleteReply) and gone.daysReturned >= 4 and gone.balance == 90 + gone.daysReturned
    with pytest.raises(NotFound):
        c.channels.get(second.id)
    assert_ledger_sound()


def test_project_methods_round_trip(make_partner, client_for):
    p = make_partner()
    c = client_for(p)
    pr = c.projects.create("Acme")
    assert isinstance(pr, ProjectReply) and pr.name == "Acme" and not pr.isDefault
    assert c.projects.get(pr.id) == pr
    assert isinstance(c.projects.update(pr.id, "Acme Corp"), Success)
    assert c.projects.get(pr.id).name == "Acme Corp"
    page = c.projects.list(count=1)
    assert isinstance(page, ProjectList) and page.total == 2
    assert sorted(x.id for x in c.projects.iter(page_size=1)) == sorted([pr.id, p.project_id])
    assert isinstance(c.projects.delete(pr.id), Success)
    with pytest.raises(NotFound):
        c.projects.get(pr.id)


def test_partner_methods_round_trip(make_partner, client_for, tmp_path, clock):
    p = make_partner(balance=40)
    c = client_for(p)
    profile = c.partner.get()
    assert isinstance(profile, PartnerProfile) and (profile.name, profile.id, profile.balance) == (p.name, p.id, 40)
    assert c.partner.balance() == 40
    ch = c.channels.create("one")
    for days in (1, 2, 3):
        c.channels.extend(ch.id, days, f"extension {days}")
    page = c.partner.history(count=2)
    assert isinstance(page, HistoryPage) and page.total == 4 and [h.days for h in page.history] == [3, 2]
    assert [h.type for h in c.partner.iter_history(page_size=3)] == ["extend"] * 3 + ["adjustment"]
    assert [h.days for h in c.partner.iter_history(type="extend", channel=ch.id)] == [3, 2, 1]
    assert list(c.partner.iter_history(since=clock.now_ms() + DAY)) == []
    out = tmp_path / "history.csv"
    assert c.partner.history_csv(out, type="extend") > 0
    lines = out.read_text().lstrip("\ufeff").splitlines()
    assert len(lines) == 4 and "extension 1" in lines[1] and "extension 3" in lines[3]  # oldest first

    settings = c.partner.settings()
    assert isinstance(settings, models.SettingsReply)
    assert isinstance(c.partner.update_settings(days_limit=12), Success)
    assert c.partner.settings().days_limit == 12


def test_token_methods_round_trip(make_partner, client_for, base_url):
    p = make_partner()
    c = client_for(p)
    issued = c.tokens.create(name="robot", scope="read", expires_in_days=30)
    assert isinstance(issued, models.IssuedTokenReply) and issued.token and issued.scope == "read"
    listed = c.tokens.list()
    assert isinstance(listed, models.TokenList) and issued.id in {t.id for t in listed.tokens}
    with Client(base_url, issued.token) as robot:
        assert robot.me().scope == "read"
        revoked = c.tokens.revoke(issued.id)
        assert isinstance(revoked, models.TokenInfo) and revoked.revokedAt is not None
        with pytest.raises(Exception) as caught:
            robot.me()
        assert type(caught.value).__name__ == "Unauthorized"


def test_policy_and_notice_methods_round_trip(make_partner, client_for):
    p = make_partner(balance=10)
    c = client_for(p)
    ch = c.channels.create("auto")
    pol = c.policies.set_channel(ch.id, below_days=2, extend_days=5, budget_days=50, until="2099-12-31")
    assert isinstance(pol, models.PolicyReply) and (pol.scope, pol.belowDays, pol.extendDays) == ("channel", 2, 5)
    assert c.policies.get_channel(ch.id).budgetDays == 50
    assert c.policies.delete_channel(ch.id).channelId == ch.id
    with pytest.raises(NotFound):
        c.policies.get_channel(ch.id)
    pol = c.policies.set_project(p.project_id, 1, 1, paused=True)
    assert pol.scope == "project" and pol.paused and c.policies.get_project(p.project_id).id == pol.id
    assert c.policies.delete_project(p.project_id).id == pol.id

    notices = c.notices.set(expiring_notice_days=5, runway_notice_days=10, email_events=["days"])
    assert isinstance(notices, models.NoticeSettingsReply)
    assert (notices.expiringNoticeDays, notices.runwayNoticeDays, notices.emailEvents) == (5, 10, ["days"])
    assert c.notices.get() == notices


def test_webhook_methods_round_trip(make_partner, client_for):
    c = client_for(make_partner())
    ep = c.webhooks.create("http://127.0.0.1:9/hook", events=["channel.extended"], description="ours")
    assert isinstance(ep, models.EndpointCreated) and ep.secret and ep.events == ["channel.extended"]
    assert c.webhooks.get(ep.id).description == "ours"
    assert [e.id for e in c.webhooks.list().endpoints] == [ep.id]
    assert c.webhooks.update(ep.id, enabled=False, events=["*"]).enabled is False
    assert c.webhooks.update(ep.id, enabled=True).events == ["*"]
    rotated = c.webhooks.rotate_secret(ep.id)
    assert isinstance(rotated, models.EndpointCreated) and rotated.secret != ep.secret
    sent = c.webhooks.test(ep.id)
    assert isinstance(sent, models.TestSent)
    page = c.webhooks.deliveries(ep.id)
    assert isinstance(page, models.DeliveryPage) and [d.id for d in page.deliveries] == [sent.deliveryId]
    assert [d.eventId for d in c.webhooks.iter_deliveries(ep.id)] == [sent.eventId]
    assert isinstance(c.webhooks.resend(ep.id, sent.deliveryId), models.DeliveryReply)
    assert c.webhooks.delete(ep.id).id == ep.id
    with pytest.raises(NotFound):
        c.webhooks.get(ep.id)


def test_invoice_methods_round_trip(make_partner, client_for, admin):
    p = make_partner(pricePerMonth="30.00")
    c = client_for(p)
    r = admin.post("/admin/invoices", json={"partner": p.name, "channels": 2})
    assert r.status_code == 201, r.text
    inv = c.invoices.get(r.json()["id"])
    assert isinstance(inv, models.InvoiceReply) and (inv.channels, inv.days) == (2, 60)
    page = c.invoices.list(status="open")
    assert isinstance(page, models.InvoicePage) and [i.id for i in page.invoices] == [inv.id]
    assert [i.id for i in c.invoices.iter()] == [inv.id]
    assert inv.id in c.invoices.document(inv.id)
    details = c.invoices.set_billing_details(company="Acme Ltd", tax_id="DE123")
    assert isinstance(details, models.BillingDetailsReply) and (details.company, details.taxId) == ("Acme Ltd",
                                                                                                  "DE123")
    assert c.invoices.billing_details() == details


def test_payment_methods_round_trip(make_partner, pay_url, checkout_complete, client_for):  # noqa: F811
    """Top-ups, cards, auto-recharge and subscriptions against the server configured with
    the Stripe emulator (tests/payments)."""
    p = make_partner(pricePerMonth="30.00")
    c = client_for(p, url=pay_url)
    quote = c.topups.quote(channels=2)
    assert isinstance(quote, models.QuoteReply) and quote.days == 60
    topup = c.topups.create(days=30)
    assert isinstance(topup, models.TopupReply) and topup.days == 30 and topup.paymentUrl
    assert c.topups.get(topup.id) == topup
    assert [t.id for t in c.topups.list().topups] == [topup.id] == [t.id for t in c.topups.iter()]

    setup = c.cards.add()
    assert isinstance(setup, models.CardSetupReply)
    checkout_complete(setup.sessionId)
    cards = c.cards.list()
    assert isinstance(cards, models.PaymentMethodList) and len(cards.paymentMethods) == 1
    rule = c.autorecharge.set(below_days=5, buy_days=30)
    assert isinstance(rule, models.RuleReply) and (rule.belowDays, rule.buyDays, rule.enabled) == (5, 30, True)
    assert c.autorecharge.get().buyDays == 30
    assert c.autorecharge.delete().belowDays == 5
    with pytest.raises(NotFound):
        c.autorecharge.get()
    removed = c.cards.remove(cards.paymentMethods[0].id)
    assert isinstance(removed, models.PaymentMethodReply) and c.cards.list().paymentMethods == []

    ch = c.channels.create("subscribed")
    sub = c.subscriptions.create(ch.id, "month")
    assert isinstance(sub, models.SubscriptionReply) and sub.channelId == ch.id and sub.interval == "month"
    assert c.subscriptions.get(ch.id).id == sub.id
    assert isinstance(c.subscriptions.cancel(ch.id), models.SubscriptionReply)


def test_the_async_client_is_the_same_client(make_partner, base_url, tmp_path):
    p = make_partner(balance=10)

    async def main():
        async with AsyncClient(base_url, p.token) as c:
            assert (await c.me()).partner == p.name
            ch = await c.channels.create("async")
            done = await c.channels.extend(ch.id, 4, "async extension")
            assert isinstance(done, ExtendReply) and done.balance == 6
            assert (await c.channels.get(ch.id)).activeTill == done.activeTill
            assert [x.id async for x in c.channels.iter(page_size=1)] == [ch.id]
            assert [h.days async for h in c.partner.iter_history(type="extend")] == [4]
            assert await c.partner.balance() == 6
            assert await c.channels.export_csv(tmp_path / "a.csv") > 0
            with pytest.raises(NotFound):
                await c.channels.get("ZZZZZZ-00000")
    asyncio.run(main())


def test_the_client_reads_its_url_and_token_from_the_environment(make_partner, base_url, monkeypatch):
    p = make_partner()
    monkeypatch.setenv("DAYLEDGER_URL", base_url + "/")
    monkeypatch.setenv("DAYLEDGER_TOKEN", p.token)
    with Client() as c:
        assert c.me().partner == p.name and c.base_url == base_url
    monkeypatch.delenv("DAYLEDGER_TOKEN")
    with pytest.raises(ValueError, match="DAYLEDGER_TOKEN"):
        Client()
    monkeypatch.delenv("DAYLEDGER_URL")
    with pytest.raises(ValueError, match="DAYLEDGER_URL"):
        AsyncClient(token="x")
