"""The ledger's side of payments, below the HTTP layer: one credit per payment (the database
refuses a second), clawbacks that never drive a balance negative and record the shortfall as
debt, credits that pay a debt first, and verify noticing a credit without its payment or a
paid payment without its credit."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import IntegrityError

from dayledger.ledger import Actor, post
from dayledger.ledger.payments import clawback, credit_payment, give_back
from dayledger.models import Payment
from dayledger.payments.service import new_id

ACTOR = Actor("system", "tests")


def now_ms() -> int:
    return int(time.time() * 1000)


def add_payment(db, partner_id: str, days: int, *, paid: bool) -> str:
    pid = new_id("topup")

    async def fn(session):
        await session.execute(insert(Payment).values(
            id=pid, partner_id=partner_id, kind="topup", source="checkout", status="paid" if paid else "pending",
            days=days, unit_price=Decimal(30), subtotal=Decimal(days), discount_percent=Decimal(0),
            discount=Decimal(0), total=Decimal(days), currency="USD", clawed_days=0, created_ms=now_ms(),
            paid_ms=now_ms() if paid else None, updated_ms=now_ms()))
    db.run(fn)
    return pid


def credit(db, partner_id: str, payment_id: str, days: int):
    async def fn(session):
        return await credit_payment(session, partner_id=partner_id, type="topup", days=days, payment_id=payment_id,
                                    comment="test payment", actor=ACTOR, now_ms=now_ms())
    return db.run(fn)


def profile(db, partner_id: str) -> tuple[int, int]:
    return db.rows("SELECT balance, debt_days FROM partners WHERE id = :p", p=partner_id)[0]


def test_a_payment_is_credited_once_the_database_refuses_a_second(db, make_partner, assert_ledger_sound):
    p = make_partner()
    pid = add_payment(db, p.id, 30, paid=True)
    credit(db, p.id, pid, 30)
    with pytest.raises(IntegrityError):
        credit(db, p.id, pid, 30)
    assert profile(db, p.id) == (30, 0)
    assert_ledger_sound()


def test_a_clawback_takes_what_is_left_owes_the_rest_and_the_next_credit_pays_the_debt_first(
        db, make_partner, assert_ledger_sound):
    p = make_partner(balance=10)
    pid = add_payment(db, p.id, 30, paid=True)
    credit(db, p.id, pid, 30)  # balance 40

    async def spend(session):
        await post(session, partner_id=p.id, type="adjustment", balance_delta=-25, actor=ACTOR, now_ms=now_ms(),
                   comment="spent")
    db.run(spend)  # balance 15

    async def refund(session):
        done = await clawback(session, partner_id=p.id, days=30, payment_id=pid, comment="refunded",
                              actor=ACTOR, now_ms=now_ms())
        await session.execute(text("UPDATE payments SET clawed_days = 30, status = 'refunded' WHERE id = :i"),
                              {"i": pid})
        return done
    clawed = db.run(refund)
    assert (clawed.taken, clawed.owed) == (15, 15)
    assert profile(db, p.id) == (0, 15)  # never negative: the rest is debt
    assert_ledger_sound()

    second = add_payment(db, p.id, 20, paid=True)
    posted = credit(db, p.id, second, 20)
    assert posted.balance_after == 5 and profile(db, p.id) == (5, 0)  # 15 of the 20 paid the debt
    row = db.rows("SELECT days, balance_delta, debt_delta FROM ledger_entries WHERE payment_id = :i", i=second)
    assert row == [(20, 5, -15)]
    assert_ledger_sound()


def test_giving_back_pays_a_debt_first(db, make_partner, assert_ledger_sound):
    p = make_partner()
    pid = add_payment(db, p.id, 30, paid=True)
    credit(db, p.id, pid, 30)

    async def dispute(session):
        await post(session, partner_id=p.id, type="adjustment", balance_delta=-20, actor=ACTOR, now_ms=now_ms(),
                   comment="spent")
        await clawback(session, partner_id=p.id, days=30, payment_id=pid, comment="disputed", actor=ACTOR,
                       now_ms=now_ms())
        await give_back(session, partner_id=p.id, days=30, payment_id=pid, comment="dispute won", actor=ACTOR,
                        now_ms=now_ms())
    db.run(dispute)
    assert profile(db, p.id) == (10, 0)  # as before the dispute
    assert_ledger_sound()


def test_verify_names_a_paid_payment_without_credit_and_a_credit_without_payment(scratch_db, settings):
    # A database of its own: entries are append-only, the forged state cannot be taken back.
    from dayledger.partners import service as partners
    from dayledger.partners.schemas import PartnerCreate

    async def setup(session):
        return (await partners.create(session, PartnerCreate(name="forged", email="f@x.io"), settings, now_ms()))[0].id
    db = scratch_db
    partner_id = db.run(setup)
    assert db.verify() == []
    unpaid_credit = add_payment(db, partner_id, 5, paid=False)
    credit(db, partner_id, unpaid_credit, 5)  # a credit of a payment that was never paid
    add_payment(db, partner_id, 7, paid=True)  # paid, never credited
    problems = db.verify()
    assert any("1 credits in the ledger" in p and unpaid_credit in p for p in problems), problems
    assert any("0 credits in the ledger" in p for p in problems), problems
    assert any(unpaid_credit in p and "unpaid" in p for p in problems), problems
