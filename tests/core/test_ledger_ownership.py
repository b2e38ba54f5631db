"""The ledger is the only writer of days: no module outside ``dayledger.ledger`` writes a
partner's balance or debt, or a channel's activeTill, trial or expired; and ``verify`` notices
when something else did (a hand edit in the database)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import dayledger

DAYS_COLUMNS = {"balance", "debt_days", "active_till_ms", "trial_ms", "expired"}
SRC = Path(dayledger.__file__).parent
# Table definitions and the migrations that create (and once backfill) these columns.
EXEMPT = {SRC / "ledger", SRC / "models", SRC / "migrations"}
ROW_BUILDERS = {"values", "Channel", "Partner", "update", "insert"}  # calls whose keywords are column writes
RAW_SQL_WRITE = re.compile(r"\b(UPDATE\s+(channels|partners)\b.*\bSET\b.*\b(" + "|".join(DAYS_COLUMNS) + r")\b"
                           r"|INSERT\s+INTO\s+(channels|partners)\b)", re.I | re.S)


def writes_in(source: str, filename: str = "<src>") -> list[str]:
    """Every place in ``source`` that writes one of the days columns: an attribute
    assignment (``ch.expired = ...``, ``p.balance += ...``), a keyword of a row builder
    (``Channel(trial_ms=...)``, ``.values(expired=True)``), a dict key handed to
    ``execute`` (``{"active_till_ms": ...}``) or raw SQL that updates or inserts them."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for t in targets:
            for sub in ast.walk(t):
                if isinstance(sub, ast.Attribute) and sub.attr in DAYS_COLUMNS:
                    found.append(f"{filename}:{sub.lineno}: assigns .{sub.attr}")
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ROW_BUILDERS:
                for kw in node.keywords:
                    if kw.arg in DAYS_COLUMNS:
                        found.append(f"{filename}:{node.lineno}: {name}({kw.arg}=...)")
            if name == "execute":
                for arg in node.args[1:]:
                    for sub in ast.walk(arg):
                        if isinstance(sub, ast.Dict):
                            for key in sub.keys:
                                if isinstance(key, ast.Constant) and key.value in DAYS_COLUMNS:
                                    found.append(f"{filename}:{node.lineno}: execute(..., {{{key.value!r}: ...}})")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and RAW_SQL_WRITE.search(node.value):
            found.append(f"{filename}:{node.lineno}: SQL writes channels/partners")
    return found


def outside_the_ledger() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if not any(p.is_relative_to(e) for e in EXEMPT)]


def test_no_module_outside_the_ledger_writes_days():
    files = outside_the_ledger()
    assert len(files) > 30, "the scan must see the whole package"
    offenders = [w for p in files for w in writes_in(p.read_text(), str(p.relative_to(SRC)))]
    assert offenders == [], "only dayledger.ledger may write these columns:\n" + "\n".join(offenders)


@pytest.mark.parametrize("snippet", [
    "ch.active_till_ms = now",
    "partner.balance += 5",
    "self.channel.expired = False",
    "x = Channel(id='A', trial_ms=1)",
    "stmt = update(Channel).values(expired=True)",
    "await session.execute(insert(Channel), [{'id': 'x', 'active_till_ms': 5}])",
    "await session.execute(text('UPDATE partners SET balance = balance + 1'))",
    "sql = 'INSERT INTO channels (id) VALUES (1)'",
])
def test_the_scan_finds_each_kind_of_write(snippet):
    assert writes_in(snippet), snippet


def test_the_scan_passes_reads_and_replies():
    ok = ("balance = partner.balance\n"
          "reply = {'balance': 3, 'expired': False}\n"
          "Introspection(expired=ch.expired)\n"
          "stmt = select(Channel.active_till_ms).where(Channel.expired.is_(False))\n")
    assert writes_in(ok) == []


def test_the_ledger_module_itself_is_seen_writing(assert_ledger_sound):
    # The scan is not blind: the ledger, which does write these columns, is found writing them.
    ledger_files = sorted((SRC / "ledger").glob("*.py"))
    assert any(writes_in(p.read_text(), p.name) for p in ledger_files)


def test_verify_catches_channel_time_altered_by_hand(db, make_partner):
    p = make_partner(balance=20)
    r = p.put("/channels", json={"name": "tamper", "projectId": p.project_id})
    assert r.status_code == 200, r.text
    cid = r.json()["id"]
    assert p.post(f"/channels/{cid}/extend", json={"days": 5, "comment": "paid"}).status_code == 200
    assert [x for x in db.verify() if cid in x] == []

    db.scalar("UPDATE channels SET active_till_ms = active_till_ms + 86400000 WHERE id = :id RETURNING id", id=cid)
    try:
        problems = [x for x in db.verify() if cid in x]
        assert problems and "activeTill" in problems[0], problems
    finally:
        db.scalar("UPDATE channels SET active_till_ms = active_till_ms - 86400000 WHERE id = :id RETURNING id",
                  id=cid)
    assert [x for x in db.verify() if cid in x] == []


def test_verify_catches_an_entry_whose_time_does_not_follow(scratch_db, settings, clock):
    # An extension recorded with a time that is not max(then, before) + days: the chain check.
    from dayledger.channels import service as channels
    from dayledger.channels.schemas import ChannelCreate, ExtendRequest
    from dayledger.ledger import Actor, Op
    from dayledger.partners import service as partners
    from dayledger.partners.schemas import DaysChange, PartnerCreate

    now = clock.now_ms()
    op = Op(now, Actor("operator", "test"))

    async def setup(session):
        partner, project_id = await partners.create(session, PartnerCreate(name="chain", email="c@x.io"), settings, now)
        await partners.change_days(session, "chain", DaysChange(days=20, comment="funds"), sign=1, actor=op.actor,
                                   now_ms=now, idempotency_key=None)
        shown = await channels.create(session, partner.id, ChannelCreate(name="c", projectId=project_id), settings, op)
        done = await channels.extend(session, partner.id, shown.channel.id, ExtendRequest(days=2, comment="x"), op)
        return partner.id, shown.channel.id, done.channel.active_till_ms
    pid, cid, till = scratch_db.run(setup)
    assert scratch_db.verify() == []
    balance = scratch_db.scalar("SELECT balance FROM partners WHERE id = :id", id=pid)
    # A forged zero-day "extension" that claims three more days; the channel row follows it,
    # so the stored time equals the last entry and only the chain can tell.
    forged = till + 3 * 86_400_000
    scratch_db.scalar("INSERT INTO ledger_entries (partner_id, created_ms, type, days, balance_delta, balance_after, "
                      "channel_id, channel_days, comment, actor_type, actor_id, active_till_after_ms) VALUES "
                      "(:p, :t, 'extend', 0, 0, :b, :c, 0, 'forged', 'system', 'test', :a) RETURNING id",
                      p=pid, t=now, b=balance, c=cid, a=forged)
    scratch_db.scalar("UPDATE channels SET active_till_ms = :a WHERE id = :id RETURNING id", a=forged, id=cid)
    problems = scratch_db.verify()
    assert len(problems) == 1 and "does not follow" in problems[0] and cid in problems[0], problems
