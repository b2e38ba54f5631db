"""Auto-extend with real worker processes on the test database: two ``dayledger worker
--once`` at the same time over 2,000 due channels extend each exactly once
(PostgreSQL: SKIP LOCKED shares the channels out); a worker killed with SIGKILL in the
middle of its round leaves each committed extension whole, and the next round extends
every other channel once, never one twice. ``verify`` passes after each."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import dayledger_env, SCRIPT
from dayledger.clock import DAY_MS

HOUR_MS = 3_600_000


def due_channels(p, insert_channels, count: int) -> set[str]:
    """``count`` live channels with 36 hours left, under the partner's project default L=2, K=1.
    The partner is told of expiring channels 1 day ahead: the expiring-notice job, which runs
    first in a round, would otherwise hold these channels locked while one worker tells of
    them, and the other worker's auto-extend step would skip them all."""
    assert p.put(f"/partners/{p.name}/notices", json={"expiringNoticeDays": 1}).status_code == 200
    now = int(time.time() * 1000)
    rows = insert_channels(p, count, created_ms=now - DAY_MS, active_till_ms=now + 36 * HOUR_MS, name="ax")
    r = p.put("/projects/default/autoextend", json={"belowDays": 2, "extendDays": 1})
    assert r.status_code == 200, r.text
    return {row["id"] for row in rows}


def extensions(db, p) -> dict[str, int]:
    return dict(db.rows("SELECT channel_id, COUNT(*) FROM ledger_entries WHERE partner_id = :p AND type = 'extend' "
                        "AND actor_id = 'autoextend' GROUP BY channel_id", p=p.id))


def worker_once(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([str(SCRIPT), "worker", "--once"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.skipif(not os.environ.get("DAYLEDGER_TEST_DATABASE_URL"),
                    reason="two worker processes writing at once need PostgreSQL (SQLite has one writer)")
def test_two_worker_processes_extend_each_channel_once(make_partner, insert_channels, db, db_url, tmp_path,
                                                       assert_ledger_sound):
    count = 2000
    p = make_partner(balance=count + 10)
    mine = due_channels(p, insert_channels, count)
    env = dayledger_env(db_url, tmp_path, DAYLEDGER_AUTOEXTEND_BATCH_SIZE="20")
    workers = [worker_once(env) for _ in range(2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    for w, (_, err) in zip(workers, outputs, strict=True):
        assert w.returncode == 0, err
    taken = [json.loads(out)["autoextendChecked"] for out, _ in outputs]

    assert extensions(db, p) == {cid: 1 for cid in mine}
    # Both worked, and no channel was taken by both (other partners' due channels may add to the sum).
    assert min(taken) > 0 and sum(taken) >= count, taken
    assert p.balance == 10
    shown = p.get(f"/projects/{p.project_id}/autoextend").json()
    assert shown["spentDays"] == count
    assert_ledger_sound()


def test_a_worker_killed_mid_round_extends_each_channel_once(make_partner, insert_channels, db, db_url, tmp_path,
                                                              assert_ledger_sound):
    count = 1500
    p = make_partner(balance=count)
    mine = due_channels(p, insert_channels, count)
    env = dayledger_env(db_url, tmp_path, DAYLEDGER_AUTOEXTEND_BATCH_SIZE="5")  # 300 commits: time to be killed
    worker = subprocess.Popen([str(SCRIPT), "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not extensions(db, p):
        assert worker.poll() is None and time.monotonic() < deadline, "the worker extended nothing"
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    done = extensions(db, p)
    assert 0 < len(done) < count, "the worker was not killed in the middle of its round"
    # Each committed step is whole: its entries, its events, its cycle counts and spent days.
    assert set(done.values()) == {1}
    events = dict(db.rows("SELECT channel_id, COUNT(*) FROM events WHERE partner_id = :p "
                          "AND type = 'channel.extended' GROUP BY channel_id", p=p.id))
    assert events == done
    assert_ledger_sound()

    r = subprocess.run([str(SCRIPT), "worker", "--once"], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert extensions(db, p) == {cid: 1 for cid in mine}
    assert p.balance == 0
    assert_ledger_sound()
