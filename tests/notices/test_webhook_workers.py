"""Webhook delivery by real ``dayledger worker`` processes: several share the work without
sending anything twice while it succeeds, each endpoint still hears its events in order,
and a worker killed in the middle of delivering loses nothing (what it sent but did not
record is sent again with the same ``webhook-id``)."""

from __future__ import annotations

import signal
import subprocess
import time

from conftest import dayledger_env, SCRIPT
from dayledger.events import emit
from notices.receiver import Receiver

WORKER_ENV = dict(DAYLEDGER_WEBHOOK_ALLOW_PRIVATE="true", DAYLEDGER_WORKER_INTERVAL_SECONDS="0.1",
                  DAYLEDGER_WEBHOOK_RUN_SECONDS="1", DAYLEDGER_WEBHOOK_CONNECT_TIMEOUT_SECONDS="1",
                  DAYLEDGER_WEBHOOK_READ_TIMEOUT_SECONDS="1", DAYLEDGER_WEBHOOK_BATCH_SIZE="20")


def write_events(db, clock, partner, n: int) -> list[str]:
    async def fn(session):
        for i in range(n):
            await emit(session, partner_id=partner.id, type="channel.extended", now_ms=clock.now_ms(),
                       payload={"n": i})
    db.run(fn)
    return [f"evt_{i}" for (i,) in db.rows("SELECT id FROM events WHERE partner_id = :p AND type = "
                                           "'channel.extended' ORDER BY id", p=partner.id)]


def endpoint(p, rcv: Receiver) -> None:
    r = p.post(f"/partners/{p.name}/webhooks", json={"url": rcv.url, "events": ["channel.extended"]})
    assert r.status_code == 201, r.text
    rcv.secret = r.json()["secret"]


def workers(db_url, tmp_path, n: int) -> list[subprocess.Popen]:
    env = dayledger_env(db_url, tmp_path, **WORKER_ENV)
    return [subprocess.Popen([str(SCRIPT), "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            for _ in range(n)]


def wait_until(check, seconds: float, procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        for proc in procs:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "a worker exited"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(20)


def first_seen(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def test_two_worker_processes_share_the_work_without_sending_twice(make_partner, db, db_url, clock, tmp_path):
    partners = [make_partner() for _ in range(3)]
    receivers = [Receiver().start() for _ in partners]
    procs: list[subprocess.Popen] = []
    try:
        for p, rcv in zip(partners, receivers):
            endpoint(p, rcv)
            rcv.delay = 0.002
        expected = [write_events(db, clock, p, 150) for p in partners]
        procs = workers(db_url, tmp_path, 2)
        wait_until(lambda: all(len(r.ids()) >= len(e) for r, e in zip(receivers, expected)), 120, procs)
        time.sleep(1.0)  # a duplicate would arrive within a round
        for rcv, ids in zip(receivers, expected):
            assert rcv.forged == []
            assert rcv.ids() == ids  # each once, in order
    finally:
        stop(procs)
        for rcv in receivers:
            rcv.stop()


def test_a_worker_killed_mid_delivery_loses_nothing(make_partner, db, db_url, clock, tmp_path):
    p = make_partner()
    rcv = Receiver().start()
    procs: list[subprocess.Popen] = []
    try:
        endpoint(p, rcv)
        rcv.delay = 0.01  # 400 deliveries take a few seconds: time to be killed amid them
        expected = write_events(db, clock, p, 400)
        procs = workers(db_url, tmp_path, 1)
        wait_until(lambda: len(rcv.ids()) >= 40, 120, procs)
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        sent = len(rcv.ids())
        assert sent < len(expected), "the worker was not killed in the middle of its work"
        assert first_seen(rcv.ids()) == expected[:len(first_seen(rcv.ids()))]

        procs = workers(db_url, tmp_path, 1)  # its lease runs out, and the next worker goes on
        wait_until(lambda: set(rcv.ids()) >= set(expected), 120, procs)
        assert rcv.forged == []
        assert first_seen(rcv.ids()) == expected  # in order; some sent twice (at least once)
        resent = len(rcv.ids()) - len(expected)
        assert 0 <= resent <= 20  # at most what the killed worker had in hand (one batch)
        statuses = db.rows("SELECT d.status, COUNT(*) FROM webhook_deliveries d JOIN webhook_endpoints e "
                           "ON e.id = d.endpoint_id WHERE e.partner_id = :p GROUP BY d.status", p=p.id)
        assert statuses == [("succeeded", len(expected))]
    finally:
        stop(procs)
        rcv.stop()
