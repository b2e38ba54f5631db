"""The allocation practices of docs/client.md, run as written against the test server
(the token and URL from the environment, as the guide says), each twice: the second run
of the same day extends nothing again."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import REPO
from payments.conftest import checkout_complete, pay_server, pay_settings, pay_url, stripe_env  # noqa: F401

DAY = 86_400_000


def practice_scripts() -> list[str]:
    text = (REPO / "docs" / "client.md").read_text()
    section = text.split("## Allocation practices as scripts", 1)[1]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def run_script(code: str, url: str, token: str) -> subprocess.CompletedProcess:
    env = {"DAYLEDGER_URL": url, "DAYLEDGER_TOKEN": token, "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_the_guide_has_four_practices():
    assert len(practice_scripts()) == 4


@pytest.mark.parametrize("which, days_each", [(0, 1), (1, 5), (2, None)], ids=["daily", "every-5-days", "monthly"])
def test_an_extension_practice_extends_once_per_day(which, days_each, make_partner, client_for, base_url, clock, db,
                                                    insert_channels, assert_ledger_sound):
    p = make_partner(balance=1_000)
    c = client_for(p)
    now = clock.now_ms()
    # Three live channels with half a day left, one with ten days left, one sandbox.
    short = [r["id"] for r in insert_channels(p, 3, created_ms=now - DAY, active_till_ms=now + DAY // 2)]
    ahead = insert_channels(p, 1, created_ms=now - DAY, active_till_ms=now + 10 * DAY)[0]["id"]
    sandbox = c.channels.create("sandbox").id
    c.channels.mode(sandbox, "dev")
    balance = c.partner.balance()
    code = practice_scripts()[which]
    for attempt in range(2):
        r = run_script(code, base_url, p.token)
        assert r.returncode == 0, r.stderr
    extended = dict(db.rows("SELECT channel_id, SUM(channel_days) FROM ledger_entries WHERE partner_id = :p "
                            "AND type = 'extend' GROUP BY channel_id", p=p.id))
    if days_each is not None:
        targets = short + [ahead] if which == 0 else short
        assert extended == {cid: days_each for cid in targets}
    else:
        month = next(iter(extended.values()))
        assert 28 <= month <= 31 and extended == {cid: month for cid in short + [ahead]}
    assert sandbox not in extended
    assert c.partner.balance() == balance - sum(extended.values())
    assert_ledger_sound()


def test_the_runway_practice_opens_one_topup(make_partner, client_for, pay_url, clock, insert_channels):  # noqa: F811
    p = make_partner(balance=20, pricePerMonth="30.00")
    now = clock.now_ms()
    insert_channels(p, 2, created_ms=now - DAY, active_till_ms=now + 5 * DAY)
    c = client_for(p, url=pay_url)
    assert c.partner.get().runwayDays == 10
    code = practice_scripts()[3]
    first = run_script(code, pay_url, p.token)
    assert first.returncode == 0, first.stderr
    assert "runway 10 days: pay 60.00 USD at http" in first.stdout
    second = run_script(code, pay_url, p.token)
    assert second.returncode == 0 and second.stdout == ""
    topups = c.topups.list().topups
    assert [(t.days, t.status) for t in topups] == [(60, "pending")]
