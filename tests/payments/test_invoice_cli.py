"""``dayledger invoice ...``: the real console script, run as a subprocess on the test
database while the test server serves the same database (the CLI and the API share the
invoice service, so what one writes the other reads)."""

from __future__ import annotations

import json
import os
import pty
import re
import secrets
import subprocess
from datetime import UTC, datetime

import pytest

from conftest import SCRIPT, plain_url

INVOICE_KEYS = {"id", "partner", "channels", "extraDays", "days", "unitPrice", "subtotal", "discountPercent",
                "discount", "total", "currency", "status", "period", "reference", "hostedInvoiceUrl", "documentUrl",
                "createdTS", "paidTS"}
DAY = 86_400_000


@pytest.fixture(scope="module")
def env(db_url, tmp_path_factory) -> dict[str, str]:
    """This test database and nothing else of dayledger's settings (so no Stripe)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAYLEDGER_")}
    env.update(DAYLEDGER_DATABASE_URL=plain_url(db_url), DAYLEDGER_DATA_DIR=str(tmp_path_factory.mktemp("cli")),
               DAYLEDGER_PUBLIC_URL="https://billing.example", NO_COLOR="1", COLUMNS="200")
    return env


@pytest.fixture(scope="module")
def cli(env):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(SCRIPT), "invoice", *args], env=env, capture_output=True, text=True, timeout=120)
    return run


def ok_json(r: subprocess.CompletedProcess):
    assert r.returncode == 0 and "Traceback" not in r.stderr, (r.args, r.returncode, r.stderr)
    return json.loads(r.stdout)


def failed(r: subprocess.CompletedProcess, *words: str) -> str:
    assert r.returncode != 0, (r.args, r.stdout)
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    message = " ".join(r.stderr.split())
    for word in words:
        assert word.lower() in message.lower(), message
    return message


def test_create_pay_and_list_print_the_invoice_objects(cli, admin, make_partner, db, assert_ledger_sound):
    p = make_partner(pricePerMonth="15.00", currency="EUR")
    inv = ok_json(cli("create", p.name, "--channels", "75", "--extra-days", "10", "--json"))
    assert set(inv) == INVOICE_KEYS, inv
    assert (inv["partner"], inv["channels"], inv["extraDays"], inv["days"], inv["total"], inv["currency"],
            inv["status"]) == (p.name, 75, 10, 2260, "1130.00", "EUR", "open")
    assert inv["documentUrl"] == f"https://billing.example/partners/{p.name}/invoices/{inv['id']}/document"
    # What the CLI wrote, the API shows the same (bar the server's own public URL).
    api = admin.get(f"/admin/invoices/{inv['id']}").json()
    assert {k: v for k, v in api.items() if k != "documentUrl"} == {
        k: v for k, v in inv.items() if k != "documentUrl"}

    paid = ok_json(cli("pay", inv["id"], "--reference", "wire 77", "--json"))
    assert (paid["status"], paid["reference"], paid["id"]) == ("paid", "wire 77", inv["id"])
    assert isinstance(paid["paidTS"], int)
    failed(cli("pay", inv["id"]), "already paid")
    assert p.balance == 2260
    assert db.scalar("SELECT count(*) FROM ledger_entries WHERE payment_id = :id", id=inv["id"]) == 1

    second = ok_json(cli("create", p.name, "--channels", "1", "--json"))
    assert (second["extraDays"], second["days"], second["total"]) == (0, 30, "15.00")
    listed = ok_json(cli("list", "--partner", p.name, "--json"))
    assert [i["id"] for i in listed] == [second["id"], inv["id"]]  # newest first
    assert all(set(i) == INVOICE_KEYS for i in listed)
    voided = ok_json(cli("void", second["id"], "--json"))
    assert voided["status"] == "void"
    failed(cli("pay", second["id"]), "void")

    # Without --json: a table, times as UTC dates.
    table = cli("list", "--partner", p.name)
    assert table.returncode == 0, table.stderr
    created = datetime.fromtimestamp(inv["createdTS"] / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    assert inv["id"] in table.stdout and created in table.stdout and "created (UTC)" in table.stdout
    assert str(inv["createdTS"]) not in table.stdout
    assert_ledger_sound()


def test_generate_once_per_period_with_json_and_a_table(cli, admin, make_partner, insert_channels, clock, db,
                                                        assert_ledger_sound):
    now = clock.now_ms()
    p, idle = make_partner(), make_partner()
    for partner in (p, idle):
        assert admin.patch(f"/admin/partners/{partner.name}", json={"invoiceBilling": True}).status_code == 200
    insert_channels(p, 7, created_ms=now - DAY, active_till_ms=now + DAY)
    insert_channels(p, 2, created_ms=now - DAY, active_till_ms=now + DAY, mode="trial", trial_ms=now + DAY)
    period = f"20{secrets.randbelow(50) + 50}-0{secrets.randbelow(9) + 1}"

    first = ok_json(cli("generate", "--period", period, "--json"))
    assert set(first) == {"period", "created", "skipped"} and first["period"] == period
    mine = [i for i in first["created"] if i["partner"] == p.name]
    assert len(mine) == 1 and set(mine[0]) == INVOICE_KEYS
    assert (mine[0]["channels"], mine[0]["days"], mine[0]["period"], mine[0]["total"]) == (7, 210, period, "210.00")
    assert {"partner": idle.name, "reason": "no live channels"} in first["skipped"]

    again = cli("generate", "--period", period)  # a table this time
    assert again.returncode == 0, again.stderr
    assert f"already invoiced for {period}: {mine[0]['id']} (open)" in " ".join(again.stdout.split())
    assert db.scalar("SELECT count(*) FROM payments WHERE partner_id = :id", id=p.id) == 1
    assert_ledger_sound()


def test_generate_shows_progress_on_a_terminal_only(env, admin, make_partner, insert_channels, clock):
    p = make_partner()
    assert admin.patch(f"/admin/partners/{p.name}", json={"invoiceBilling": True}).status_code == 200
    insert_channels(p, 1, created_ms=clock.now_ms() - DAY, active_till_ms=clock.now_ms() + DAY)
    period = f"21{secrets.randbelow(90) + 10}-0{secrets.randbelow(9) + 1}"
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([str(SCRIPT), "invoice", "generate", "--period", period, "--json"], env=env,
                                stdout=subprocess.PIPE, stderr=slave, text=True)
    finally:
        os.close(slave)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO once the command has exited
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    out = proc.stdout.read()
    assert proc.wait(120) == 0, drawn
    shown = drawn.decode(errors="replace")
    assert f"invoicing {period}" in shown and "invoiced: " in shown, shown
    assert re.search(r"\b(\d+)/\1\b", shown), shown  # the bar ends full: n/n partners
    assert any(i["partner"] == p.name for i in json.loads(out)["created"])
    # Piped, stderr stays empty.
    piped = subprocess.run([str(SCRIPT), "invoice", "generate", "--period", period, "--json"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0 and piped.stderr == ""


def test_bad_input_exits_non_zero_without_a_traceback(cli, make_partner, db):
    p = make_partner()
    nobody = "nobody-" + secrets.token_hex(3)
    failed(cli("create", nobody, "--channels", "1"), "partner not found")
    for channels in ("0", "-1", "100001"):
        failed(cli("create", p.name, "--channels", channels), "channels")
    failed(cli("create", p.name, "--channels", "1", "--extra-days", "-1"), "extraDays")
    assert cli("create", p.name, "--channels", "five").returncode == 2  # Typer's own usage error
    failed(cli("pay", "inv_" + "A" * 20), "invoice not found")
    failed(cli("pay", "inv_" + "A" * 20, "--reference", "x" * 201), "reference")
    for period in ("2026-13", "2026-1", "next"):
        failed(cli("generate", "--period", period), "period")
    assert db.scalar("SELECT count(*) FROM payments WHERE partner_id = :id", id=p.id) == 0
