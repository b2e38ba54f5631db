"""A slow reader of a long CSV download holds no database connection: other requests are
answered at once, on SQLite's single connection and on PostgreSQL's pool alike."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlparse

import pytest
from sqlalchemy import insert, update

from dayledger.models import LedgerEntry, Partner

ENTRIES = 100_000  # about 9 MB of CSV: far more than the socket buffers between server and reader


@pytest.fixture
def long_history(make_partner, db):
    p = make_partner()
    now = int(time.time() * 1000)

    async def load(session):
        rows = [{"partner_id": p.id, "created_ms": now, "type": "adjustment", "days": 1, "balance_delta": 1,
                 "balance_after": i + 1, "channel_id": None, "channel_days": 0, "comment": f"credit {i}",
                 "actor_type": "system", "actor_id": "tests"} for i in range(ENTRIES)]
        await session.execute(insert(LedgerEntry), rows)
        # Seeded straight into the tables (100,000 API calls would take minutes): the stored
        # balance is set to the sum of the entries, as the ledger would have left it.
        await session.execute(update(Partner).where(Partner.id == p.id).values(balance=ENTRIES))
    db.run(load)
    return p


def stalled_reader(base_url: str, path: str, token: str) -> socket.socket:
    """A client that asks for ``path``, reads the first bytes and then stops reading."""
    u = urlparse(base_url)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((u.hostname, u.port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {u.hostname}\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    first = s.recv(2048)
    assert first.startswith(b"HTTP/1.1 200"), first[:200]
    return s


@pytest.mark.parametrize("readers", [1, 25])
def test_stalled_csv_readers_do_not_delay_other_requests(long_history, base_url, admin, readers):
    p = long_history
    sockets = []
    try:
        for i in range(readers):
            path = f"/partners/{p.name}/history.csv" if i % 2 == 0 else "/channels/export.csv"
            sockets.append(stalled_reader(base_url, path, p.token))
        # The server fills what the sockets take and then waits on the readers. With 25 streams
        # on two cores that takes a moment: wait (at most 15 s) until a request is answered at
        # once, then every following one must be. A reader holding a connection would exhaust
        # the pool and no request would be answered within its 5 s timeout.
        deadline = time.monotonic() + 15
        while True:
            started = time.monotonic()
            r = p.get(f"/partners/{p.name}", timeout=5)
            assert r.status_code == 200, r.text
            if time.monotonic() - started < 0.2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        for _ in range(5):
            started = time.monotonic()
            r = p.get(f"/partners/{p.name}", timeout=5)
            assert r.status_code == 200 and r.json()["balance"] >= ENTRIES, r.text
            assert time.monotonic() - started < 3.0  # held connections would hang to the 5 s timeout
            started = time.monotonic()
            r = admin.post(f"/admin/partners/{p.name}/credit", json={"days": 1, "comment": "during the download"},
                           timeout=5)
            assert r.status_code == 200, r.text
            assert time.monotonic() - started < 3.0  # held connections would hang to the 5 s timeout
    finally:
        for s in sockets:
            s.close()


def test_the_stalled_download_is_still_complete_when_read(long_history, base_url):
    p = long_history
    s = stalled_reader(base_url, f"/partners/{p.name}/history.csv", p.token)
    time.sleep(0.5)
    data = bytearray()
    s.settimeout(30)
    while not data.endswith(b"\r\n0\r\n\r\n"):  # the end of the chunked body (a last chunk of size 0)
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        data += chunk
    s.close()
    assert data.count(b",adjustment,") == ENTRIES
