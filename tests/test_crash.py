"""Crashes: a real ``dayledger`` process is killed with SIGKILL in the middle of its work,
on the test database (SQLite or PostgreSQL). Whatever was committed is whole, whatever
was not left no trace, a retry with the same Idempotency-Key finishes the job exactly
once, and ``verify`` passes."""

from __future__ import annotations

import secrets
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx

from conftest import SCRIPT, dayledger_env, new_client

DAY = 86_400_000


def funded_partner(url: str, operator_token: str, name: str, days: int) -> str:
    """A partner made through the operator API of the server at ``url``, credited ``days``;
    returns its full-scope token."""
    with new_client(url, operator_token) as op:
        assert op.post("/admin/partners", json={"name": name, "email": f"{name}@example.com"}).status_code == 201
        assert op.post(f"/admin/partners/{name}/credit", json={"days": days, "comment": "funds"}).status_code == 200
        return op.post(f"/admin/partners/{name}/tokens", json={"name": "t", "scope": "full"}).json()["token"]


def start_clients(url: str, token: str, work: list[tuple[str, str]], n: int = 12,
                  answered_if: Callable[[httpx.Response], bool] = lambda r: True):
    """``n`` threads sending ``POST /channels/{channel}/extend`` (1 day) with each key of
    ``work``; returns the threads, the responses by key, and the keys whose request got
    no response (or one that ``answered_if`` says is not the server's own)."""
    answered: dict[str, httpx.Response] = {}
    lost: list[str] = []
    lock = threading.Lock()

    def client(part: list[tuple[str, str]]) -> None:
        with new_client(url, token) as c:
            for key, channel in part:
                try:
                    r = c.post(f"/channels/{channel}/extend", json={"days": 1, "comment": "crash test"},
                               headers={"Idempotency-Key": key})
                except httpx.TransportError:
                    r = None
                with lock:
                    if r is not None and answered_if(r):
                        answered[key] = r
                    else:
                        lost.append(key)

    threads = [threading.Thread(target=client, args=(work[k::n],)) for k in range(n)]
    for t in threads:
        t.start()
    return threads, answered, lost


def test_server_killed_during_extensions_loses_and_doubles_nothing(serve, operator_token, db,
                                                                   assert_ledger_sound):
    first = serve()
    name = f"crash-{secrets.token_hex(4)}"
    token = funded_partner(first.url, operator_token, name, 10_000)
    with new_client(first.url, token) as p:
        channels = [p.put("/channels", json={"name": f"c{i}", "projectId": "default"}).json() for i in range(10)]
    # 600 extensions of one day, each with its own key, round robin over the channels.
    work = [(f"crash-{name}-{i}", channels[i % len(channels)]["id"]) for i in range(600)]
    threads, answered, lost = start_clients(first.url, token, work)
    deadline = time.monotonic() + 120
    while len(answered) < 60:  # well into the load
        assert time.monotonic() < deadline and first.proc.poll() is None, "the load did not start"
        time.sleep(0.01)
    first.kill()
    for t in threads:
        t.join(60)
    assert lost, "the server was killed before any request was left unanswered"
    assert {r.status_code for r in answered.values()} == {200}

    # Storage right after the crash: each committed extension is whole (entry, key, time).
    per_key = dict(db.rows("SELECT idempotency_key, COUNT(*) FROM ledger_entries WHERE type = 'extend' "
                           "AND idempotency_key LIKE :k GROUP BY idempotency_key", k=f"crash-{name}-%"))
    assert set(per_key.values()) <= {1}
    assert set(answered) <= set(per_key)  # an answered request was committed
    assert_ledger_sound()

    # The clients retry every request with its key on a new server: the answered ones are
    # replayed as they were, the rest take effect now, each exactly once.
    second = serve()
    threads, retried, lost = start_clients(second.url, token, work)
    for t in threads:
        t.join(120)
    assert not lost and {r.status_code for r in retried.values()} == {200}
    for key, r in answered.items():
        assert retried[key].headers.get("idempotent-replayed") == "true" and retried[key].json() == r.json()
    with new_client(second.url, token) as c:
        assert c.get(f"/partners/{name}").json()["balance"] == 10_000 - len(work)
        per_channel = Counter(channel for _, channel in work)
        for ch in channels:
            got = c.get(f"/channels/{ch['id']}").json()
            assert (got["activeTill"] - got["creationTS"]) // DAY == per_channel[ch["id"]]
    per_key = dict(db.rows("SELECT idempotency_key, COUNT(*) FROM ledger_entries WHERE type = 'extend' "
                           "AND idempotency_key LIKE :k GROUP BY idempotency_key", k=f"crash-{name}-%"))
    assert per_key == {key: 1 for key, _ in work}
    assert_ledger_sound()


def test_worker_killed_during_expiry_expires_each_channel_once(make_partner, insert_channels, db, db_url, tmp_path,
                                                               assert_ledger_sound):
    p = make_partner(trial=True)
    now = int(time.time() * 1000)
    due = insert_channels(p, 6000, created_ms=now - 2 * DAY, active_till_ms=now - DAY, mode="trial",
                          trial_ms=now - DAY, name="due")
    mine = {c["id"] for c in due}

    def expired_ids() -> set[str]:
        return {r[0] for r in db.rows("SELECT id FROM channels WHERE partner_id = :p AND expired = :t",
                                      p=p.id, t=True)}

    env = dayledger_env(db_url, tmp_path, DAYLEDGER_EXPIRY_BATCH_SIZE="10")  # 600 commits: time to be killed amid them
    worker = subprocess.Popen([str(SCRIPT), "worker"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not expired_ids():
        assert worker.poll() is None and time.monotonic() < deadline, "the worker expired nothing"
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    done = expired_ids()
    assert 0 < len(done) < len(mine), "the worker was not killed in the middle of its work"

    def entries() -> dict[str, int]:
        return dict(db.rows("SELECT channel_id, COUNT(*) FROM ledger_entries WHERE partner_id = :p "
                            "AND type = 'expire' GROUP BY channel_id", p=p.id))

    def events() -> dict[str, int]:
        return dict(db.rows("SELECT channel_id, COUNT(*) FROM events WHERE partner_id = :p "
                            "AND type = 'channel.expired' GROUP BY channel_id", p=p.id))

    # Each committed batch is whole: every expired channel has its entry and event, no other has.
    assert entries() == events() == {cid: 1 for cid in done}
    assert_ledger_sound()

    # The next round finishes the job, and nothing is expired twice.
    r = subprocess.run([str(SCRIPT), "worker", "--once"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert expired_ids() == mine
    assert entries() == events() == {cid: 1 for cid in mine}
    assert_ledger_sound()
