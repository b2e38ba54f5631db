"""A model of one partner's ledger, driven by Hypothesis: random credits, debits (402 when
they do not fit), extensions of its channels one at a time and in bulk (the hot path:
group commit, and on PostgreSQL the one-statement extension), replays of earlier keyed
requests, retries of failed ones, conflicting key reuse, postings through the service
layer, and clawbacks (a refund taking days back: the balance never goes negative, the
shortfall becomes debt that the next credit pays first). After every step the API's
balance, debt, history and channel times must equal the model's and every ledger
invariant must hold."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from dayledger import ledger
from dayledger.db import Database
from dayledger.errors import InsufficientBalance
from dayledger.ledger.payments import clawback

from .conftest import check_error

DAY = 86_400_000


@dataclass
class Sent:
    key: str
    path: str
    body: dict
    status: int
    content: bytes


class DirectDB:
    """One engine and one event loop for the whole test: the invariant runs after every
    step, and a new engine per check would dominate the run time."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.db = Database(url, pool_size=1)

    def run(self, fn, *args):
        return self.loop.run_until_complete(self.db.run(fn, *args))

    def close(self) -> None:
        self.loop.run_until_complete(self.db.dispose())
        self.loop.close()


@pytest.fixture
def direct(db_url):
    d = DirectDB(db_url)
    yield d
    d.close()


def test_ledger_matches_its_model(admin, make_partner, direct, clock):
    keys = itertools.count()

    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.partner = make_partner()
            self.balance = 0   # the model
            self.debt = 0      # days owed after a clawback took more than the balance held
            self.entries = 0
            self.done: list[Sent] = []    # keyed requests that succeeded: replays change nothing
            self.failed: list[Sent] = []  # keyed requests refused with 402: stored nothing
            self.channels = [self.partner.client.put("/channels", json={"name": f"m{i}", "projectId": "default"})
                             .json() for i in range(3)]
            self.till = {c["id"]: c["activeTill"] for c in self.channels}  # the model of each channel's time

        # --- through the HTTP API ---------------------------------------------------

        def send(self, op: str, days: int, key: str | None) -> None:
            path = f"/admin/partners/{self.partner.name}/{op}"
            body = {"days": days, "comment": f"{op} {days}"}
            if op == "credit":
                self.deliver(path, body, key, needs=0, credit=days)
            else:
                self.deliver(path, body, key, needs=days)

        def deliver(self, path: str, body: dict, key: str | None, *, needs: int, credit: int = 0,
                    moves: dict[str, int] | None = None) -> None:
            """Send one request; the model moves if it fits (a debit of ``needs``, a credit,
            channel time ``moves``), else it must be a 402 that changed nothing."""
            headers = {"Idempotency-Key": key} if key else {}
            r = self.client_for(path).post(path, json=body, headers=headers)
            fits = needs <= self.balance
            if fits:
                assert r.status_code == 200, r.text
                self.balance += self.credited(credit) - needs
                self.entries += len(moves) if moves else 1
                for cid, days in (moves or {}).items():
                    self.till[cid] = max(clock.now_ms(), self.till[cid]) + days * DAY
                assert r.json()["balance"] == self.balance
                assert "idempotent-replayed" not in r.headers
            else:
                check_error(r, 402, message="insufficient balance")
            if key:
                sent = Sent(key, path, body, r.status_code, r.content)
                (self.done if fits else self.failed).append(sent)

        def client_for(self, path: str):
            return self.partner.client if path.startswith("/channels") else admin

        def credited(self, days: int) -> int:
            """A credit pays the debt first; what reaches the balance."""
            paid = min(self.debt, days)
            self.debt -= paid
            return days - paid

        @rule(days=st.integers(1, 40), keyed=st.booleans())
        def credit(self, days, keyed):
            self.send("credit", days, f"k{next(keys)}" if keyed else None)

        @rule(days=st.integers(1, 60), keyed=st.booleans())
        def debit(self, days, keyed):
            self.send("debit", days, f"k{next(keys)}" if keyed else None)

        @rule(days=st.integers(1, 30), which=st.integers(0, 2), keyed=st.booleans())
        def extend(self, days, which, keyed):
            cid = self.channels[which]["id"]
            self.deliver(f"/channels/{cid}/extend", {"days": days, "comment": f"extend {days}"},
                         f"k{next(keys)}" if keyed else None, needs=days, moves={cid: days})

        @rule(days=st.lists(st.integers(1, 20), min_size=1, max_size=3), keyed=st.booleans())
        def extend_many(self, days, keyed):
            moves = {self.channels[i]["id"]: d for i, d in enumerate(days)}
            body = {"comment": "bulk", "channels": [{"id": cid, "days": d} for cid, d in moves.items()]}
            self.deliver("/channels/extend", body, f"k{next(keys)}" if keyed else None, needs=sum(days),
                         moves=moves)

        @rule(hours=st.integers(1, 24 * 40))
        def time_passes(self, hours):
            clock.advance(ms=hours * 3_600_000)

        @precondition(lambda self: self.done)
        @rule(data=st.data())
        def replay(self, data):
            sent = data.draw(st.sampled_from(self.done))
            r = self.client_for(sent.path).post(sent.path, json=sent.body, headers={"Idempotency-Key": sent.key})
            assert r.status_code == sent.status
            assert r.headers.get("idempotent-replayed") == "true"
            assert r.content == sent.content

        @precondition(lambda self: self.failed)
        @rule(data=st.data())
        def retry_failed(self, data):
            """A key whose request failed was never stored: retrying it is a new attempt."""
            sent = data.draw(st.sampled_from(self.failed))
            self.failed.remove(sent)
            if sent.path == "/channels/extend":
                moves = {c["id"]: c["days"] for c in sent.body["channels"]}
                self.deliver(sent.path, sent.body, sent.key, needs=sum(moves.values()), moves=moves)
            elif sent.path.startswith("/channels/"):
                cid = sent.path.split("/")[2]
                self.deliver(sent.path, sent.body, sent.key, needs=sent.body["days"], moves={cid: sent.body["days"]})
            else:
                self.send(sent.path.rsplit("/", 1)[1], sent.body["days"], sent.key)

        @precondition(lambda self: self.done)
        @rule(data=st.data(), extra=st.integers(1, 5))
        def reuse_key_for_another_request(self, data, extra):
            sent = data.draw(st.sampled_from(self.done))
            body = {**sent.body, "comment": f"{sent.body['comment']} and {extra} more"}
            check_error(self.client_for(sent.path).post(sent.path, json=body, headers={"Idempotency-Key": sent.key}),
                        422)

        # --- through the service layer ----------------------------------------------

        @rule(delta=st.integers(-60, 40).filter(bool))
        def post_directly(self, delta):
            async def fn(session):
                return await ledger.post(session, partner_id=self.partner.id, type="adjustment",
                                         balance_delta=delta, actor=ledger.Actor("operator", "hypothesis"),
                                         now_ms=clock.now_ms(), comment="direct")
            if self.balance + delta < 0:
                with pytest.raises(InsufficientBalance):
                    direct.run(fn)
            else:
                posted = direct.run(fn)
                self.balance += self.credited(delta) if delta > 0 else delta
                self.entries += 1
                assert posted.balance_after == self.balance

        @rule(days=st.integers(1, 60))
        def claw_back(self, days):
            """A refund or dispute: what the balance holds is taken, the rest becomes debt."""
            async def fn(session):
                return await clawback(session, partner_id=self.partner.id, days=days, payment_id="top_hypothesis",
                                      comment="refund", actor=ledger.Actor("stripe", "hypothesis"),
                                      now_ms=clock.now_ms())
            done = direct.run(fn)
            taken = min(self.balance, days)
            assert (done.taken, done.owed) == (taken, days - taken)
            self.balance -= taken
            self.debt += days - taken
            self.entries += 1

        # --- after every step -------------------------------------------------------

        @invariant()
        def api_agrees_with_the_model(self):
            profile = self.partner.get(f"/partners/{self.partner.name}")
            assert profile.status_code == 200, profile.text
            assert profile.json()["balance"] == self.balance
            assert profile.json()["debtDays"] == self.debt
            history = self.partner.get(f"/partners/{self.partner.name}/history", params={"count": 1}).json()
            assert history["total"] == self.entries
            if self.entries:
                assert history["history"][0]["balanceAfter"] == self.balance
            for cid, till in self.till.items():
                assert self.partner.client.get(f"/channels/{cid}").json()["activeTill"] == till

        @invariant()
        def ledger_is_sound(self):
            assert direct.run(ledger.verify) == []

    run_state_machine_as_test(LedgerMachine, settings=settings(
        max_examples=10, stateful_step_count=20, deadline=None, database=None))
