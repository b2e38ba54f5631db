"""The real ``dayledger`` console script, run as a subprocess against the test database
while the test server serves the same database."""

from __future__ import annotations

import json
import os
import pty
import secrets
import subprocess
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from conftest import SCRIPT, free_port, plain_url

from .conftest import check_error, new_client

DAY = 86_400_000


class CLI:
    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.workdir = workdir

    def env(self, url: str | None = None, **extra: str) -> dict[str, str]:
        """The command's environment: this test database, nothing else of dayledger's, plus ``extra``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAYLEDGER_")}
        env.update(DAYLEDGER_DATABASE_URL=url or self.url, DAYLEDGER_DATA_DIR=str(self.workdir / "data"),
                   NO_COLOR="1", **extra)
        return env

    def __call__(self, *args: str, url: str | None = None, **extra: str) -> subprocess.CompletedProcess:
        env = self.env(url, **extra)
        return subprocess.run([str(SCRIPT), *args], env=env, cwd=self.workdir, capture_output=True, text=True,
                              timeout=120)

    def on_terminal(self, *args: str) -> tuple[subprocess.CompletedProcess, str]:
        """The command with stderr on a pseudo-terminal (as in an interactive shell);
        returns the result (stdout captured) and everything drawn on that terminal."""
        master, slave = pty.openpty()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAYLEDGER_")}
        env.update(DAYLEDGER_DATABASE_URL=self.url, DAYLEDGER_DATA_DIR=str(self.workdir / "data"), COLUMNS="120")
        try:
            proc = subprocess.Popen([str(SCRIPT), *args], env=env, cwd=self.workdir, stdout=subprocess.PIPE,
                                    stderr=slave, text=True)
        finally:
            os.close(slave)
        drawn = b""
        while True:
            try:
                chunk = os.read(master, 65536)  # EIO once the command has exited and closed it
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
        os.close(master)
        stdout = proc.stdout.read()
        proc.wait(120)
        return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, ""), drawn.decode(errors="replace")

    def many(self, *commands: tuple[str, ...], **extra: str) -> list[subprocess.CompletedProcess]:
        """Independent commands at once (each start-up costs about a second), each with the
        ``extra`` environment. A command ending in ``"--url", URL`` runs with that database
        URL instead of the default."""
        def one(args: tuple[str, ...]) -> subprocess.CompletedProcess:
            if len(args) > 2 and args[-2] == "--url":
                return self(*args[:-2], url=args[-1], **extra)
            return self(*args, **extra)
        with ThreadPoolExecutor(len(commands)) as pool:
            return list(pool.map(one, commands))

    def json(self, *args: str, url: str | None = None):
        r = self(*args, "--json", url=url)
        assert r.returncode == 0, (args, r.returncode, r.stderr)
        assert "Traceback" not in r.stderr, r.stderr
        return json.loads(r.stdout)


def failed(r: subprocess.CompletedProcess, *words: str) -> str:
    """The command failed plainly: non-zero exit, a message on stderr, no traceback."""
    assert r.returncode != 0, (r.args, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    message = " ".join(r.stderr.split())
    assert message, r
    for word in words:
        assert word.lower() in message.lower(), message
    return message


@pytest.fixture(scope="module")
def cli(db_url, tmp_path_factory) -> CLI:
    assert SCRIPT.exists(), f"console script missing: {SCRIPT}"
    return CLI(plain_url(db_url), tmp_path_factory.mktemp("cli"))


def new_name() -> str:
    return f"cli-{secrets.token_hex(4)}"


def test_partner_create_credit_debit_show_list(cli, db_url, base_url, admin, db, assert_ledger_sound):
    name = new_name()
    created = cli.json("partner", "create", name, "--email", f"{name}@example.com", "--trial",
                       "--price-per-month", "25.50", "--currency", "EUR")
    assert {"name", "id", "projectId", "token"} <= set(created), created
    assert created["name"] == name and created["balance"] == 0
    assert (created["trialEligible"], created["pricePerMonth"], created["currency"]) == (True, "25.50", "EUR")

    # The printed token is a working full-scope credential on the live server.
    with new_client(base_url, created["token"]) as partner:
        me = partner.get(f"/partners/{name}")
        assert me.status_code == 200, me.text
        assert me.json()["id"] == created["id"] and me.json()["balance"] == 0
        assert partner.post(f"/partners/{name}/tokens", json={"name": "x"}).status_code == 201
    assert admin.get(f"/admin/partners/{name}").json()["pricePerMonth"] == "25.50"

    credited = cli.json("partner", "credit", name, "30", "--comment", "wire transfer 2026-11")
    assert (credited["partner"], credited["days"], credited["balance"]) == (name, 30, 30)
    debited = cli.json("partner", "debit", name, "12", "--comment", "manual correction")
    assert (debited["days"], debited["balance"]) == (12, 18)
    assert debited["transactionId"] > credited["transactionId"]

    # The driver-qualified URL form (as the server is configured) works as well as the plain one.
    over, shown, shown_driver_url, listed = cli.many(
        ("partner", "debit", name, "100", "--comment", "too much"),
        ("partner", "show", name, "--json"),
        ("partner", "show", name, "--json", "--url", db_url),
        ("partner", "list", "--json"))
    failed(over, "insufficient balance")
    assert over.stdout == ""
    assert json.loads(shown.stdout)["balance"] == 18
    assert json.loads(shown_driver_url.stdout)["balance"] == 18
    mine = [p for p in json.loads(listed.stdout) if p["name"] == name]
    assert len(mine) == 1 and mine[0]["balance"] == 18 and mine[0]["id"] == created["id"]

    history = admin.get(f"/admin/partners/{name}").json()
    assert history["balance"] == 18
    with new_client(base_url, created["token"]) as partner:
        entries = partner.get(f"/partners/{name}/history").json()["history"]
    assert [(e["type"], e["balanceDelta"], e["comment"], e["actor"]["type"]) for e in entries] == [
        ("adjustment", -12, "manual correction", "operator"),
        ("adjustment", 30, "wire transfer 2026-11", "operator"),
    ]
    assert db.scalar("SELECT balance FROM partners WHERE name = :n", n=name) == 18
    assert_ledger_sound()


def test_token_create_and_revoke(cli, make_partner, base_url):
    p = make_partner(balance=3)
    token = cli.json("token", "create", p.name, "--scope", "read", "--name", "dashboard")
    assert token["id"].startswith("tok_") and token["token"] and token["scope"] == "read"
    with new_client(base_url, token["token"]) as c:
        assert c.get(f"/partners/{p.name}").json()["balance"] == 3
        assert c.post(f"/partners/{p.name}/tokens", json={"name": "x"}).status_code == 403  # read-only
        listed = {t["id"]: t for t in p.get(f"/partners/{p.name}/tokens").json()["tokens"]}
        assert listed[token["id"]]["name"] == "dashboard"

        revoked = cli("token", "revoke", token["id"])
        assert revoked.returncode == 0, revoked.stderr
        assert c.get(f"/partners/{p.name}").status_code == 401
    assert p.get(f"/partners/{p.name}").status_code == 200  # only that token was revoked


def test_operator_token_create(cli, base_url):
    token = cli.json("operator-token", "create")
    assert token["id"].startswith("tok_") and token["token"]
    with new_client(base_url, token["token"]) as op:
        r = op.get("/admin/partners")
        assert r.status_code == 200, r.text
        assert op.get("/partners/anyone").status_code == 403  # an operator token, not a partner's


def test_verify_passes_then_names_a_broken_partner(cli, make_partner, db):
    ok = cli("verify")
    assert ok.returncode == 0, ok.stderr
    assert "ok" in ok.stdout.lower()

    victim = make_partner(balance=10)  # a throw-away partner, repaired before the test ends

    def set_balance(value: int) -> None:
        from sqlalchemy import text

        async def fn(session):
            await session.execute(text("UPDATE partners SET balance = :b WHERE id = :p"), {"b": value, "p": victim.id})
        db.run(fn)

    set_balance(15)
    try:
        broken = cli("verify")
        assert broken.returncode == 1, (broken.stdout, broken.stderr)
        message = failed(broken, "violation", victim.name)
        assert "15" in message and "10" in message
        assert "ledger ok" not in broken.stdout.lower()
    finally:
        set_balance(10)
    assert db.verify() == []


def test_long_commands_show_progress_on_a_terminal_only(cli, make_partner, insert_channels):
    p = make_partner(trial=True)
    now = int(time.time() * 1000)
    insert_channels(p, 30, created_ms=now - 2 * DAY, active_till_ms=now - DAY, mode="trial", trial_ms=now - DAY,
                    name="due")

    done, drawn = cli.on_terminal("worker", "--once")
    assert done.returncode == 0, drawn
    expired = json.loads(done.stdout)["expired"]
    assert expired >= 30 and "worker round" in drawn and f"{expired}/{expired}" in drawn
    checked, drawn = cli.on_terminal("verify")
    assert checked.returncode == 0 and "ledger OK" in checked.stdout
    from dayledger.ledger.verify import CHECKS
    assert "checked: no negative days" in drawn and f"{len(CHECKS)}/{len(CHECKS)}" in drawn
    # Scripts and pipes get the result alone.
    piped = cli("verify")
    assert piped.returncode == 0 and piped.stderr == ""


def test_errors_exit_non_zero_without_a_traceback(cli, make_partner):
    p = make_partner(balance=5)
    nobody = new_name()
    results = cli.many(
        ("partner", "show", nobody),
        ("partner", "credit", nobody, "5", "--comment", "x"),
        ("partner", "credit", p.name, "0", "--comment", "x"),
        ("partner", "debit", p.name, "abc", "--comment", "x"),
        ("token", "create", p.name, "--scope", "root"),
    )
    expectations = [("not found", nobody), ("not found", nobody), ("days",), ("days",), ("scope",)]
    for r, words in zip(results, expectations, strict=True):
        failed(r, *words)
    assert p.balance == 5
    assert len(p.get(f"/partners/{p.name}/tokens").json()["tokens"]) == 1


# Wide enough that no table cell or help line is cut or wrapped, so the text can be found whole.
WIDE = {"COLUMNS": "300"}
# Text Rich would take for markup (a closing tag with nothing to close, a style tag) or
# for an emoji code, were it not printed literally.
ODD = "[/] a[b]c [bold]x[/bold] :smile:"


def test_user_text_is_printed_literally(cli, make_partner):
    p = make_partner()
    token = cli.json("token", "create", p.name, "--name", ODD)
    assert token["name"] == ODD
    name = new_name()
    email = f"{name}[/]a[b]c@example.com"
    closing, bracketed, emoji, created, tokens = cli.many(
        ("partner", "show", "[/]"),
        ("partner", "show", "a[b]c"),
        ("partner", "show", "x:smile:y"),
        ("partner", "create", name, "--email", email),
        ("token", "list", p.name), **WIDE)
    # In errors: the name as typed (not "ac", not a MarkupError traceback).
    assert "no partner named '[/]'" in failed(closing, "not found")
    assert "no partner named 'a[b]c'" in failed(bracketed, "not found")
    assert "no partner named 'x:smile:y'" in failed(emoji, "not found")
    # In tables.
    assert created.returncode == 0, created.stderr
    assert email in created.stdout, created.stdout
    assert tokens.returncode == 0, tokens.stderr
    assert ODD in tokens.stdout, tokens.stdout
    listed = cli("partner", "list", **WIDE)
    assert listed.returncode == 0 and email in listed.stdout


def test_version(cli):
    from dayledger import __version__

    r = cli("--version")
    assert (r.returncode, r.stdout, r.stderr) == (0, f"dayledger {__version__}\n", "")


def test_a_bad_setting_names_its_variable(cli):
    commands = [("serve", "--no-worker"), ("worker", "--once"), ("migrate",), ("verify",), ("partner", "list"),
                ("partner", "show", "x"), ("token", "list", "x"), ("operator-token", "list")]
    for r in cli.many(*commands, DAYLEDGER_PORT="abc"):
        message = failed(r, "error: DAYLEDGER_PORT: Input should be a valid integer", "(got 'abc')")
        assert r.returncode == 2 and r.stdout == "", (r.args, r.returncode, r.stdout)
        assert "database" not in message, message
    unknown = cli("migrate", DAYLEDGER_LOG_LEVEL="loud")
    message = failed(unknown, "DAYLEDGER_LOG_LEVEL", "'loud'", "critical, error, warning, info, debug, trace")
    assert unknown.returncode == 2 and "up to date" not in unknown.stdout, message


def test_every_documented_log_level_works(cli):
    # The worker sets up logging at the level; trace used to stop it (python logging has no TRACE).
    for level in ("trace", "DEBUG"):
        r = cli("worker", "--once", DAYLEDGER_LOG_LEVEL=level)
        assert r.returncode == 0, (level, r.stderr)
        assert "expired" in json.loads(r.stdout)
    # The server starts at trace (uvicorn's trace messages show it took effect) and stops on Ctrl-C.
    stderr = serve_briefly(cli, DAYLEDGER_LOG_LEVEL="trace")
    assert "TRACE:" in stderr and "dayledger serving on" in stderr, stderr


def serve_briefly(cli, **extra: str) -> str:
    """``dayledger serve --no-worker`` with the ``extra`` environment, until it answers
    HTTP, then Ctrl-C; it must exit 0 without a traceback. Returns its stderr."""
    port = free_port()
    proc = subprocess.Popen([str(SCRIPT), "serve", "--no-worker", "--port", str(port)], cwd=cli.workdir,
                            env=cli.env(**extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "serve did not answer within 60 s"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in stderr, stderr
    return stderr


def test_serve_writes_only_json_lines_when_asked(cli):
    stderr = serve_briefly(cli, DAYLEDGER_LOG_FORMAT="json")
    records = [json.loads(line) for line in stderr.splitlines()]  # every line is one JSON object
    messages = [(r["level"], r["logger"], r["message"]) for r in records]
    assert ("INFO", "uvicorn.error", "Application startup complete.") in messages, messages
    assert any(m.startswith("dayledger serving on") for _, _, m in messages), messages
    bad = cli("migrate", DAYLEDGER_LOG_FORMAT="xml")
    assert bad.returncode == 2 and "DAYLEDGER_LOG_FORMAT" in failed(bad, "'xml'")


def commands_of(command, path: tuple[str, ...] = ()):
    """(path, command) for the Typer app's root, every group and every command in it."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands_of(sub, path + (name,))


def test_every_command_option_and_argument_has_help(cli):
    import typer.main

    from dayledger.cli.main import app

    root = typer.main.get_command(app)
    walked = list(commands_of(root))
    leaves = [(path, c) for path, c in walked if not hasattr(c, "commands")]
    assert {("serve",), ("partner", "suspend"), ("partner", "resume"), ("token", "list")} <= {p for p, _ in leaves}
    for path, command in walked:
        assert (command.help or "").strip(), f"dayledger {' '.join(path)} has no help"
        for param in command.params:
            assert (getattr(param, "help", None) or "").strip(), f"dayledger {' '.join(path)}: {param.name}"
    # The real --help of each shows every one of those texts, whole and literal.
    shown = cli.many(*((*path, "--help") for path, _ in walked), **WIDE)
    for (path, command), r in zip(walked, shown, strict=True):
        assert r.returncode == 0 and "Traceback" not in r.stderr, (path, r.stderr)
        text = " ".join(r.stdout.split())
        for param in command.params:
            assert " ".join(param.help.split()) in text, (path, param.name, r.stdout)
        for sub in getattr(command, "commands", {}).values():
            assert sub.help.splitlines()[0].strip() in text, (path, sub.name, r.stdout)


def utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def row(table: str, label: str) -> str:
    """The line of a printed table that holds ``label``."""
    lines = [line for line in table.splitlines() if label in line]
    assert len(lines) == 1, (label, table)
    return lines[0]


def test_tables_show_dates_and_json_keeps_milliseconds(cli, make_partner):
    p = make_partner()
    token = cli.json("token", "create", p.name, "--name", "dated")
    revoked = cli.json("token", "revoke", token["id"])
    assert isinstance(revoked["revokedAt"], int) and revoked["revokedAt"] >= token["createdAt"]
    profile, tokens = cli.json("partner", "show", p.name), cli.json("token", "list", p.name)
    assert isinstance(profile["creationTS"], int)
    mine = next(t for t in tokens if t["id"] == token["id"])
    assert (mine["createdAt"], mine["revokedAt"]) == (token["createdAt"], revoked["revokedAt"])

    shown, listed = cli.many(("partner", "show", p.name), ("token", "list", p.name), **WIDE)
    assert shown.returncode == 0 and listed.returncode == 0, (shown.stderr, listed.stderr)
    assert utc(profile["creationTS"]) in row(shown.stdout, "creationTS (UTC)")
    assert str(profile["creationTS"]) not in shown.stdout
    line = row(listed.stdout, token["id"])
    assert utc(token["createdAt"]) in line and utc(revoked["revokedAt"]) in line
    assert str(token["createdAt"]) not in listed.stdout and "revokedAt (UTC)" in listed.stdout


def test_suspend_and_resume(cli, make_partner, admin):
    p = make_partner(balance=3)
    suspended = cli.json("partner", "suspend", p.name)
    assert (suspended["name"], suspended["status"], suspended["balance"]) == (p.name, "suspended", 3)
    assert admin.get(f"/admin/partners/{p.name}").json()["status"] == "suspended"
    assert p.get(f"/partners/{p.name}").status_code == 200  # its tokens still read
    check_error(p.post(f"/partners/{p.name}/tokens", json={"name": "x"}), 403, message="suspended")
    shown = cli("partner", "show", p.name)
    assert "suspended" in row(shown.stdout, "status")

    resumed = cli("partner", "resume", p.name)  # the table form this time
    assert resumed.returncode == 0, resumed.stderr
    assert "active" in row(resumed.stdout, "status")
    assert cli.json("partner", "show", p.name)["status"] == "active"
    assert p.post(f"/partners/{p.name}/tokens", json={"name": "x"}).status_code == 201
    assert p.balance == 3

    nobody = new_name()
    for r in cli.many(("partner", "suspend", nobody), ("partner", "resume", nobody)):
        failed(r, "not found", nobody)
