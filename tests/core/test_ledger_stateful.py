"""A model of one partner's ledger, driven by Hypothesis: random credits, debits (402 when
they do not fit), replays of earlier keyed requests, retries of failed ones, conflicting
key reuse, postings through the service layer, and clawbacks (a refund taking days back:
the balance never goes negative, the shortfall becomes debt that the next credit pays
first). After every step the API's balance, debt and history must equal the model's and
every ledger invariant must hold."""

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

        # --- through the HTTP API ---------------------------------------------------

        def send(self, op: str, days: int, key: str | None) -> None:
            path = f"/admin/partners/{self.partner.name}/{op}"
            body = {"days": days, "comment": f"{op} {days}"}
            headers = {"Idempotency-Key": key} if key else {}
            r = admin.post(path, json=body, headers=headers)
            fits = op == "credit" or days <= self.balance
            if fits:
                assert r.status_code == 200, r.text
                self.balance += self.credited(days) if op == "credit" else -days
                self.entries += 1
                assert r.json()["balance"] == self.balance
                assert "idempotent-replayed" not in r.headers
            else:
                check_error(r, 402, message="insufficient balance")
            if key:
                sent = Sent(key, path, body, r.status_code, r.content)
                (self.done if fits else self.failed).append(sent)

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

        @precondition(lambda self: self.done)
        @rule(data=st.data())
        def replay(self, data):
            sent = data.draw(st.sampled_from(self.done))
            r = admin.post(sent.path, json=sent.body, headers={"Idempotency-Key": sent.key})
            assert r.status_code == sent.status
            assert r.headers.get("idempotent-replayed") == "true"
            assert r.content == sent.content

        @precondition(lambda self: self.failed)
        @rule(data=st.data())
        def retry_failed(self, data):
            """A key whose request failed was never stored: retrying it is a new attempt."""
            sent = data.draw(st.sampled_from(self.failed))
            self.failed.remove(sent)
            op = sent.path.rsplit("/", 1)[1]
            self.send(op, sent.body["days"], sent.key)

        @precondition(lambda self: self.done)
        @rule(data=st.data(), extra=st.integers(1, 5))
        def reuse_key_for_another_request(self, data, extra):
            sent = data.draw(st.sampled_from(self.done))
            body = {**sent.body, "days": sent.body["days"] + extra}
            check_error(admin.post(sent.path, json=body, headers={"Idempotency-Key": sent.key}), 422)

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

        @invariant()
        def ledger_is_sound(self):
            assert direct.run(ledger.verify) == []

    run_state_machine_as_test(LedgerMachine, settings=settings(
        max_examples=10, stateful_step_count=20, deadline=None, database=None))
