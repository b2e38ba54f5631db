"""``GET /channels/export.csv`` (SPEC 5): the partner's live channels as CSV with the fixed
header, one row each, never deleted or other partners' channels, streamed for any size."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

from .conftest import DAY, create_channel, extend_ok, set_mode

HEADER = "Name,ID,Phone Number,Work Period,Status,Mode,Created Date,Billing Status"


def export(p, **params):
    with p.client.stream("GET", "/channels/export.csv", params=params) as r:
        body = r.read().decode()
        return r, body


def parse(body: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body)))


def test_export_rows_header_and_streaming(make_partner, clock):
    p = make_partner(balance=10, trial=True)
    stranger = make_partner(trial=True)
    their = create_channel(stranger, "not yours")
    clock.set(int(datetime(2031, 6, 1, 12, tzinfo=timezone.utc).timestamp() * 1000))
    day = "2031-06-01"

    trial = create_channel(p, 'Shop "North", main line', phone="14155550123")
    clock.advance(ms=1)
    paid = create_channel(p, "paid")
    extend_ok(p, paid["id"], 3)
    assert set_mode(p, paid["id"], "live").status_code == 200
    clock.advance(ms=1)
    box = create_channel(p, "sandbox")
    assert set_mode(p, box["id"], "dev").status_code == 200
    gone = create_channel(p, "deleted")
    assert p.delete(f"/channels/{gone['id']}").status_code == 200

    r, body = export(p)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers.get("transfer-encoding") == "chunked" and "content-length" not in r.headers
    assert body.splitlines()[0] == HEADER
    rows = parse(body)
    assert [row["ID"] for row in rows] == [trial["id"], paid["id"], box["id"]]  # oldest first
    assert gone["id"] not in body and their["id"] not in body

    by_id = {row["ID"]: row for row in rows}
    t = by_id[trial["id"]]
    assert t["Name"] == 'Shop "North", main line' and t["Phone Number"] == "14155550123"
    assert t["Mode"] == "trial" and t["Billing Status"] == "Trial" and t["Status"] == "INIT"
    assert t["Created Date"] == day
    assert t["Work Period"] == f"{day} to 2031-06-06"  # five free days: runs through the 6th
    assert by_id[paid["id"]]["Mode"] == "live" and by_id[paid["id"]]["Billing Status"] == "Paid"
    assert by_id[box["id"]]["Mode"] == "dev" and by_id[box["id"]]["Billing Status"] == "Sandbox"
    assert by_id[box["id"]]["Work Period"] == "sandbox"

    # Filters narrow the export like the listing.
    _, live_only = export(p, mode="live")
    assert [row["ID"] for row in parse(live_only)] == [paid["id"]]


def test_export_of_no_channels_is_just_the_header(make_partner):
    p = make_partner()
    r, body = export(p)
    assert r.status_code == 200 and body.strip() == HEADER


def test_export_streams_thousands_of_rows(make_partner, insert_channels, clock):
    """More rows than one fetch batch: every channel exactly once, in creation order."""
    p = make_partner()
    stranger = make_partner()
    now = clock.now_ms()
    n = 2600
    mine = insert_channels(p, n, created_ms=now - DAY, active_till_ms=now + DAY)
    theirs = insert_channels(stranger, 50, created_ms=now - DAY, active_till_ms=now + DAY)

    r, body = export(p)
    assert r.status_code == 200 and r.headers.get("transfer-encoding") == "chunked"
    rows = parse(body)
    assert len(rows) == n
    assert [row["ID"] for row in rows] == [c["id"] for c in mine]
    assert {row["Billing Status"] for row in rows} == {"Paid"} and {row["Status"] for row in rows} == {"AUTH"}
    assert not {c["id"] for c in theirs} & {row["ID"] for row in rows}
