"""``dayledger remote ...``: the installed console script, run as a subprocess against the
test server (URL and token from the environment or the options)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import SCRIPT

DAY = 86_400_000


@pytest.fixture
def remote(base_url, tmp_path):
    """``remote(partner, *args)``: ``dayledger remote *args`` as that partner (DAYLEDGER_URL and
    DAYLEDGER_TOKEN); ``partner`` None: neither is set."""
    def run(partner, *args: str, **extra: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAYLEDGER_")}
        env.update(NO_COLOR="1", COLUMNS="200")
        if partner is not None:
            env.update(DAYLEDGER_URL=base_url, DAYLEDGER_TOKEN=partner.token)
        env.update(extra)
        return subprocess.run([str(SCRIPT), "remote", *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=300)
    return run


def write_csv(path: Path, rows: list[tuple[str, int]], header: str = "id,days") -> Path:
    path.write_text(header + "\n" + "".join(f"{cid},{days}\n" for cid, days in rows))
    return path


def extend_count(db, partner) -> int:
    return db.scalar("SELECT COUNT(*) FROM ledger_entries WHERE partner_id = :p AND type = 'extend'", p=partner.id)


def test_channels_list_extend_balance_and_history(make_partner, client_for, remote, tmp_path, base_url):
    p = make_partner(balance=20)
    c = client_for(p)
    ids = sorted(c.channels.create(f"cli {i}").id for i in range(3))

    r = remote(p, "channels", "list", "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert sorted(ch["id"] for ch in listed) == ids and {ch["name"] for ch in listed} == {"cli 0", "cli 1", "cli 2"}
    r = remote(p, "channels", "list")
    assert r.returncode == 0 and all(i in r.stdout for i in ids), r.stdout

    r = remote(p, "channels", "extend", ids[0], "5", "--comment", "from the CLI", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["balance"] == 15 and json.loads(r.stdout)["daysAdded"] == 5
    assert c.channels.get(ids[0]).paidDaysLeft >= 4

    r = remote(p, "balance", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["balance"] == 15 and json.loads(r.stdout)["partner"] == p.name
    r = remote(None, "balance", "--url", base_url, "--token", p.token)
    assert r.returncode == 0 and "15" in r.stdout, r.stderr

    r = remote(p, "history", "--json", "--type", "extend")
    assert r.returncode == 0, r.stderr
    entries = json.loads(r.stdout)
    assert [(e["days"], e["comment"], e["channelId"]) for e in entries] == [(5, "from the CLI", ids[0])]
    r = remote(p, "history", "--since", "2000-01-01", "--csv", "history.csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "history.csv").read_text().lstrip("\ufeff"))))
    assert [row["Type"] for row in rows] == ["adjustment", "extend"] and "wrote" in r.stderr
    r = remote(p, "history", "--since", "2999-01-01", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == []


def test_errors_print_the_message_and_details_and_exit_non_zero(make_partner, client_for, remote):
    p = make_partner(balance=1)
    ch = client_for(p).channels.create("short")
    r = remote(p, "channels", "extend", ch.id, "3", "--comment", "too much")
    assert r.returncode == 1
    assert "insufficient balance" in r.stderr and "needs 3 days but the balance is 1" in r.stderr
    assert "Traceback" not in r.stderr
    r = remote(p, "channels", "extend", "ZZZZZZ-00000", "1", "--comment", "nobody")
    assert r.returncode == 1 and "channel not found" in r.stderr and "HTTP 404" in r.stderr
    r = remote(None, "balance")
    assert r.returncode == 2 and "DAYLEDGER_URL" in r.stderr
    r = remote(p, "balance", DAYLEDGER_TOKEN="dlp_" + "x" * 40)
    assert r.returncode == 1 and "invalid API token" in r.stderr
    r = remote(p, "history", "--since", "yesterday")
    assert r.returncode == 2 and "--since" in r.stderr
    r = remote(p, "channels", "extend", ch.id, "1")  # --comment is required
    assert r.returncode == 2 and "--comment" in r.stderr


def test_extend_many_with_1000_rows_and_another_partners_channel_extends_nothing_and_names_the_row(
        make_partner, client_for, remote, insert_channels, db, clock, tmp_path, assert_ledger_sound):
    p = make_partner(balance=5_000)
    now = clock.now_ms()
    ids = [row["id"] for row in insert_channels(p, 999, created_ms=now - DAY, active_till_ms=now + DAY)]
    other = make_partner()
    foreign = client_for(other).channels.create("not yours").id
    rows = [(cid, 1 + i % 3) for i, cid in enumerate(ids)]
    rows.insert(733, (foreign, 2))  # the 734th row, on line 735 of the file
    assert len(rows) == 1000
    file = write_csv(tmp_path / "december.csv", rows)
    till_before = db.rows("SELECT id, active_till_ms FROM channels WHERE partner_id = :p ORDER BY id", p=p.id)

    r = remote(p, "extend-many", str(file), "--comment", "December")

    assert r.returncode == 1, (r.stdout, r.stderr)
    assert f"row 734 (line 735, channel {foreign})" in r.stderr, r.stderr
    assert "nothing was extended" in r.stderr and "channel not found" in r.stderr
    assert extend_count(db, p) == 0 and client_for(p).partner.balance() == 5_000
    assert db.rows("SELECT id, active_till_ms FROM channels WHERE partner_id = :p ORDER BY id", p=p.id) == till_before
    assert client_for(other).channels.get(foreign).activeTill == client_for(other).channels.get(foreign).creationTS

    # The same file in batches: the row is found before any batch is sent.
    r = remote(p, "extend-many", str(file), "--comment", "December", "--batch", "100")
    assert r.returncode == 1 and f"row 734 (line 735, channel {foreign})" in r.stderr, r.stderr
    assert extend_count(db, p) == 0

    # Without that row: all 999 in one atomic call.
    del rows[733]
    write_csv(file, rows)
    r = remote(p, "extend-many", str(file), "--comment", "December", "--json")
    assert r.returncode == 0, r.stderr
    total = sum(d for _, d in rows)
    assert json.loads(r.stdout) == {"channels": 999, "days": total, "balance": 5_000 - total}
    assert extend_count(db, p) == 999
    assert db.scalar("SELECT COUNT(DISTINCT comment) FROM ledger_entries WHERE partner_id = :p AND type = 'extend'",
                     p=p.id) == 1
    assert_ledger_sound()


def test_extend_many_in_batches(make_partner, client_for, remote, db, tmp_path, assert_ledger_sound):
    p = make_partner(balance=100)
    c = client_for(p)
    ids = [c.channels.create(f"b{i}").id for i in range(7)]
    file = write_csv(tmp_path / "alloc.csv", [(cid, 2) for cid in ids])
    r = remote(p, "extend-many", str(file), "--comment", "batched", "--batch", "3", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"channels": 7, "days": 14, "balance": 86}
    assert "7 channels extended in 3 batch(es)" in r.stderr
    assert db.scalar("SELECT COUNT(DISTINCT idempotency_key) FROM ledger_entries WHERE partner_id = :p "
                     "AND type = 'extend'", p=p.id) == 3
    # A file asking for more than the balance is refused before any batch.
    r = remote(p, "extend-many", str(write_csv(tmp_path / "big.csv", [(cid, 20) for cid in ids])),
               "--comment", "too much", "--batch", "3")
    assert r.returncode == 1 and "need 140 days but the balance is 86" in r.stderr
    assert extend_count(db, p) == 7
    assert_ledger_sound()


def test_extend_many_refuses_a_bad_file_naming_its_rows(make_partner, client_for, remote, db, tmp_path):
    p = make_partner(balance=100)
    a, b = (client_for(p).channels.create(n).id for n in ("a", "b"))
    cases = [
        ("id;days\n" + f"{a};1\n", "header 'id,days'"),
        (f"id,days\n{a},1\n\n{b},zero\n", "row 2 (line 4): days must be a whole number"),
        (f"id,days\n{a},1\nnot an id,1\n", "row 2 (line 3): 'not an id' is not a channel id"),
        (f"id,days\n{a},1\n{b},1\n{a},2\n", f"row 3 (line 4): channel {a} is also on row 1 (line 2, channel {a})"),
        (f"days,id\n0,{a}\n", "row 1 (line 2): days must be a whole number from 1"),
        ("id,days\n", "no rows"),
    ]
    for i, (text, expected) in enumerate(cases):
        path = tmp_path / f"bad{i}.csv"
        path.write_text(text)
        r = remote(p, "extend-many", str(path), "--comment", "bad")
        assert r.returncode == 2 and expected in r.stderr, (text, r.stderr)
    r = remote(p, "extend-many", str(tmp_path / "missing.csv"), "--comment", "bad")
    assert r.returncode == 2 and "cannot read" in r.stderr
    assert extend_count(db, p) == 0


def test_extend_many_in_batches_draws_a_progress_bar_on_a_terminal(make_partner, client_for, base_url, tmp_path):
    """On a terminal (stderr a pseudo-terminal) the batches draw a progress bar; piped, the
    same command prints none (the other tests)."""
    import pty

    p = make_partner(balance=50)
    c = client_for(p)
    file = write_csv(tmp_path / "bar.csv", [(c.channels.create(f"t{i}").id, 1) for i in range(6)])
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAYLEDGER_")}
    env.update(DAYLEDGER_URL=base_url, DAYLEDGER_TOKEN=p.token, COLUMNS="120")
    try:
        proc = subprocess.Popen([str(SCRIPT), "remote", "extend-many", str(file), "--comment", "bar", "--batch", "2",
                                 "--json"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=slave, text=True)
    finally:
        os.close(slave)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    stdout = proc.stdout.read()
    assert proc.wait(120) == 0
    assert json.loads(stdout) == {"channels": 6, "days": 6, "balance": 44}
    text = drawn.decode(errors="replace")
    assert "extending 6 channels" in text and "6/6" in text, text
