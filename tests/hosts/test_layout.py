"""Several hosts (issue 11, part 4): two API hosts and two worker hosts as network
namespaces, HAProxy in front of the API hosts, one PostgreSQL (deploy/hosts/layout.py).
The hosts share nothing but the database, so the concurrency and crash scenarios hold
across them as they do in one process: every request here goes through the load
balancer, and ``verify`` passes after each scenario."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections import Counter
from types import SimpleNamespace

import httpx
import pytest

from conftest import REPO, check_error, new_client, plain_url
from test_crash import start_clients

DAY = 86_400_000


def _load_layout():
    spec = importlib.util.spec_from_file_location("dayledger_hosts_layout", REPO / "deploy" / "hosts" / "layout.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


layouts = _load_layout()

pytestmark = [
    pytest.mark.skipif(not os.environ.get("DAYLEDGER_TEST_DATABASE_URL"),
                       reason="needs the PostgreSQL test database: hosts share PostgreSQL (SQLite is one file "
                              "on one host)"),
    pytest.mark.skipif(bool(layouts.missing_tools()),
                       reason="the several-hosts layout needs " + ", ".join(layouts.missing_tools())),
]


@pytest.fixture(scope="module")
def layout(db_url, tmp_path_factory):
    """The layout on the test run's database; the worker hosts are started by their test.
    The hosts' and HAProxy's logs are kept in the test run's temporary directory."""
    run = layouts.Layout(plain_url(db_url), run_id=f"t{secrets.token_hex(3)}",
                         env={"DAYLEDGER_EXPIRY_BATCH_SIZE": "10", "DAYLEDGER_WORKER_INTERVAL_SECONDS": "0.2",
                              "DAYLEDGER_LOG_LEVEL": "info"})
    run.up(workers=False)
    try:
        yield run
    finally:
        logs = tmp_path_factory.mktemp("hosts-logs")
        for log in run.run_dir.glob("*.log"):
            shutil.copy(log, logs / log.name)
        run.down()
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert run.prefix not in left, f"namespaces left over: {left}"


def make_partner(url: str, operator_token: str, *, balance: int, trial: bool = False) -> SimpleNamespace:
    name = f"hosts-{secrets.token_hex(4)}"
    with new_client(url, operator_token) as op:
        r = op.post("/admin/partners", json={"name": name, "email": f"{name}@example.com", "trialEligible": trial})
        assert r.status_code == 201, r.text
        if balance:
            assert op.post(f"/admin/partners/{name}/credit",
                           json={"days": balance, "comment": "funds"}).status_code == 200
        token = op.post(f"/admin/partners/{name}/tokens", json={"name": "t", "scope": "full"}).json()["token"]
    return SimpleNamespace(name=name, id=r.json()["id"], project_id=r.json()["projectId"], token=token)


def make_channels(url: str, p, count: int) -> list[str]:
    with new_client(url, p.token) as c:
        made = [c.put("/channels", json={"name": f"c{i}", "projectId": "default"}) for i in range(count)]
    assert all(r.status_code in (200, 201) for r in made), [r.text for r in made]
    return [r.json()["id"] for r in made]


def balance(url: str, p) -> int:
    with new_client(url, p.token) as c:
        return c.get(f"/partners/{p.name}").json()["balance"]


def from_dayledger(r: httpx.Response) -> bool:
    """An answer of dayledger itself, not HAProxy's 502/503 page for a host that died."""
    return r.headers.get("content-type", "").startswith("application/json")


async def _send_all(url: str, token: str, paths: list[str]) -> list[httpx.Response]:
    """POST every extend at the same moment, each on its own connection."""
    limits = httpx.Limits(max_connections=len(paths), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        start = asyncio.Event()

        async def one(path: str) -> httpx.Response:
            await start.wait()
            return await client.post(path, json={"days": 1, "comment": "two hosts"})

        tasks = [asyncio.create_task(one(p)) for p in paths]
        await asyncio.sleep(0)
        start.set()
        return await asyncio.gather(*tasks)


def test_concurrent_extends_across_two_api_hosts(layout, operator_token, db, assert_ledger_sound):
    p = make_partner(layout.url, operator_token, balance=120)
    channels = make_channels(layout.url, p, 8)
    before = layout.responses_by_host()

    responses = asyncio.run(_send_all(layout.url, p.token,
                                      [f"/channels/{channels[i % 8]}/extend" for i in range(200)]))

    codes = Counter(r.status_code for r in responses)
    assert codes == {200: 120, 402: 80}, (codes, [r.text for r in responses if r.status_code not in (200, 402)][:3])
    for r in responses:
        if r.status_code == 402:
            check_error(r, 402)
    assert balance(layout.url, p) == 0
    after = layout.responses_by_host()
    served = {h: after[h] - before.get(h, 0) for h in after}
    assert served["api1"] > 0 and served["api2"] > 0, served  # both hosts took extends
    assert sum(served.values()) >= 200, served
    # The hosts reached PostgreSQL through the proxy on the bridge, the only way out of their namespaces.
    proxied = [row for row in layout.stats() if row["pxname"] == "postgresql" and row["svname"] == "FRONTEND"]
    assert int(proxied[0]["stot"]) > 0, proxied
    assert db.scalar("SELECT COUNT(*) FROM ledger_entries WHERE partner_id = :p AND type = 'extend'", p=p.id) == 120
    assert_ledger_sound()


def _retry(url: str, token: str, key: str, channel: str) -> httpx.Response:
    """The client's retry of an unanswered request: the same key, until dayledger answers
    (409 while another host still holds the key: try again)."""
    deadline = time.monotonic() + 60
    with new_client(url, token) as c:
        while True:
            try:
                r = c.post(f"/channels/{channel}/extend", json={"days": 1, "comment": "crash test"},
                           headers={"Idempotency-Key": key})
                if from_dayledger(r) and r.status_code != 409:
                    return r
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"no answer for {key}"
            time.sleep(0.1)


def test_api_host_killed_mid_load_applies_each_key_once(layout, operator_token, db, assert_ledger_sound):
    p = make_partner(layout.url, operator_token, balance=10_000)
    channels = make_channels(layout.url, p, 10)
    work = [(f"hosts-{p.name}-{i}", channels[i % len(channels)]) for i in range(400)]
    clients = 12
    threads, answered, lost = start_clients(layout.url, p.token, work, clients, answered_if=from_dayledger)
    deadline = time.monotonic() + 120
    while len(answered) < 100:  # well into the load, on both hosts
        assert time.monotonic() < deadline and all(t.is_alive() for t in threads), "the load did not start"
        time.sleep(0.005)
    layout.kill("api1")
    at_kill = layout.responses_by_host(("2xx",))  # answers of dayledger itself
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)

    # HAProxy sent the rest to api2: only the requests api1 had in hand (one per client at
    # most) went unanswered; everything else was answered, and by api2 alone after the kill.
    assert len(answered) + len(lost) == len(work)
    assert 0 < len(lost) <= clients, lost
    assert {r.status_code for r in answered.values()} == {200}
    after = layout.responses_by_host(("2xx",))
    assert after["api1"] == at_kill["api1"] and after["api2"] > at_kill["api2"], (at_kill, after)
    assert at_kill["api1"] > 0 and at_kill["api2"] > 0, at_kill

    # Right after the crash: whatever api1 committed is whole, an answer means a commit.
    def per_key() -> dict[str, int]:
        return dict(db.rows("SELECT idempotency_key, COUNT(*) FROM ledger_entries WHERE type = 'extend' "
                            "AND partner_id = :p GROUP BY idempotency_key", p=p.id))
    committed = per_key()
    assert set(committed.values()) <= {1}
    assert set(answered) <= set(committed)
    assert_ledger_sound()

    # The clients retry each unanswered request with its key, through the load balancer
    # (api2 now): what api1 committed before dying is replayed, the rest takes effect now.
    channel_of = dict(work)
    for key in lost:
        r = _retry(layout.url, p.token, key, channel_of[key])
        assert r.status_code == 200, r.text
        assert (r.headers.get("idempotent-replayed") == "true") == (key in committed), (key, r.headers)

    assert per_key() == {key: 1 for key, _ in work}
    assert balance(layout.url, p) == 10_000 - len(work)
    per_channel = Counter(channel for _, channel in work)
    with new_client(layout.url, p.token) as c:
        for ch in channels:
            got = c.get(f"/channels/{ch}").json()
            assert (got["activeTill"] - got["creationTS"]) // DAY == per_channel[ch]
    assert_ledger_sound()


def _expired_by(layout, host: str) -> int:
    """Channels ``host``'s worker reports having expired (its round summaries in its log)."""
    return sum(int(n) for n in re.findall(r"'expired': (\d+)", layout.log(host).read_text()))


def test_two_worker_hosts_expire_each_channel_once(layout, operator_token, insert_channels, db,
                                                   assert_ledger_sound):
    for host in ("worker1", "worker2"):
        layout.start(host)
    deadline = time.monotonic() + 60
    while not all("worker running" in layout.log(h).read_text() for h in ("worker1", "worker2")):
        assert time.monotonic() < deadline and layout.alive("worker1") and layout.alive("worker2"), \
            "the worker hosts did not start"
        time.sleep(0.05)
    time.sleep(1)  # a first round each: whatever else was due is done, both idle now
    worker2_before = _expired_by(layout, "worker2")

    p = make_partner(layout.url, operator_token, balance=0, trial=True)
    now = int(time.time() * 1000)
    due = insert_channels(p, 3000, created_ms=now - 2 * DAY, active_till_ms=now - DAY, mode="trial",
                          trial_ms=now - DAY, name="due")
    mine = {c["id"] for c in due}

    def expired_ids() -> set[str]:
        return {r[0] for r in db.rows("SELECT id FROM channels WHERE partner_id = :p AND expired = :t",
                                      p=p.id, t=True)}

    deadline = time.monotonic() + 60
    while len(expired_ids()) < 300:  # both hosts at work (batches of 10 each)
        assert time.monotonic() < deadline, "the workers expired nothing"
        time.sleep(0.01)
    layout.kill("worker1")
    at_kill = expired_ids()
    assert len(at_kill) < len(mine), "worker1 was not killed in the middle of the work"

    # worker2, alone now, finishes the job: each channel expired exactly once, its entry
    # and its event written once.
    deadline = time.monotonic() + 90
    while expired_ids() != mine:
        assert time.monotonic() < deadline and layout.alive("worker2"), "worker2 did not finish the expiry"
        time.sleep(0.1)
    entries = dict(db.rows("SELECT channel_id, COUNT(*) FROM ledger_entries WHERE partner_id = :p "
                           "AND type = 'expire' GROUP BY channel_id", p=p.id))
    events = dict(db.rows("SELECT channel_id, COUNT(*) FROM events WHERE partner_id = :p "
                          "AND type = 'channel.expired' GROUP BY channel_id", p=p.id))
    assert entries == events == {cid: 1 for cid in mine}
    # Both hosts took part: worker2's rounds (logged once each round ends) account for part only.
    deadline = time.monotonic() + 60
    while (by2 := _expired_by(layout, "worker2") - worker2_before) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert 0 < by2 < len(mine), by2
    assert_ledger_sound()
