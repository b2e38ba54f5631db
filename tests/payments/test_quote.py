"""The price of some days through GET /partners/{name}/topups/quote: 1, 29, 30 and 31 days
and one below, at and above every volume tier, in USD, EUR and JPY (no decimals); channels
are 30 days each; bad parameters are 422 in the one error shape. The quote works on the
server without Stripe keys (pricing only)."""

from __future__ import annotations

import pytest

from conftest import check_error, new_client

TIERS = [{"fromDays": 3000, "percent": "10"}, {"fromDays": 900, "percent": "5"}]
DAYS = (1, 29, 30, 31, 899, 900, 901, 2999, 3000, 3001)
# (days, subtotal, discountPercent, discount, total), worked out by hand:
# subtotal = days x price / 30 rounded half up to the minor unit; total rounded once from the exact amount.
EXPECTED = {
    ("USD", "45.50"): [
        (1, "1.52", "0", "0.00", "1.52"),
        (29, "43.98", "0", "0.00", "43.98"),
        (30, "45.50", "0", "0.00", "45.50"),
        (31, "47.02", "0", "0.00", "47.02"),
        (899, "1363.48", "0", "0.00", "1363.48"),
        (900, "1365.00", "5", "68.25", "1296.75"),
        (901, "1366.52", "5", "68.33", "1298.19"),
        (2999, "4548.48", "5", "227.42", "4321.06"),
        (3000, "4550.00", "10", "455.00", "4095.00"),
        (3001, "4551.52", "10", "455.15", "4096.37"),
    ],
    ("EUR", "19.99"): [
        (1, "0.67", "0", "0.00", "0.67"),
        (29, "19.32", "0", "0.00", "19.32"),
        (30, "19.99", "0", "0.00", "19.99"),
        (31, "20.66", "0", "0.00", "20.66"),
        (899, "599.03", "0", "0.00", "599.03"),
        (900, "599.70", "5", "29.98", "569.72"),
        (901, "600.37", "5", "30.02", "570.35"),
        (2999, "1998.33", "5", "99.91", "1898.42"),
        (3000, "1999.00", "10", "199.90", "1799.10"),
        (3001, "1999.67", "10", "199.97", "1799.70"),
    ],
    ("JPY", "1000"): [
        (1, "33", "0", "0", "33"),
        (29, "967", "0", "0", "967"),
        (30, "1000", "0", "0", "1000"),
        (31, "1033", "0", "0", "1033"),
        (899, "29967", "0", "0", "29967"),
        (900, "30000", "5", "1500", "28500"),
        (901, "30033", "5", "1501", "28532"),
        (2999, "99967", "5", "4999", "94968"),
        (3000, "100000", "10", "10000", "90000"),
        (3001, "100033", "10", "10003", "90030"),
    ],
}


def priced_partner(make_partner, admin, currency: str, price: str, tiers=TIERS):
    p = make_partner(currency=currency, pricePerMonth=price)
    r = admin.patch(f"/admin/partners/{p.name}", json={"discounts": tiers})
    assert r.status_code == 200, r.text
    return p


@pytest.mark.parametrize("currency,price", list(EXPECTED))
def test_quote_at_the_edges_and_every_tier(make_partner, admin, currency, price):
    p = priced_partner(make_partner, admin, currency, price)
    assert [d for d, *_ in EXPECTED[(currency, price)]] == list(DAYS)
    for days, subtotal, percent, discount, total in EXPECTED[(currency, price)]:
        r = p.get(f"/partners/{p.name}/topups/quote", params={"days": days})
        assert r.status_code == 200, r.text
        assert r.json() == {"days": days, "unitPrice": price if currency == "JPY" else f"{float(price):.2f}",
                            "subtotal": subtotal, "discountPercent": percent, "discount": discount,
                            "total": total, "currency": currency}, days


def test_channels_are_thirty_days_each(make_partner, admin):
    p = priced_partner(make_partner, admin, "JPY", "1000")
    for channels in (1, 29, 30, 31, 100, 33_333):
        by_channels = p.get(f"/partners/{p.name}/topups/quote", params={"channels": channels})
        by_days = p.get(f"/partners/{p.name}/topups/quote", params={"days": channels * 30})
        assert by_channels.status_code == by_days.status_code == 200, (by_channels.text, by_days.text)
        assert by_channels.json() == by_days.json() and by_channels.json()["days"] == channels * 30
    # 100 channels = 3,000 days: the 10 % tier
    assert p.get(f"/partners/{p.name}/topups/quote", params={"channels": 100}).json()["total"] == "90000"


def test_half_a_cent_rounds_up_once_and_without_tiers_there_is_no_discount(make_partner):
    p = make_partner(currency="USD", pricePerMonth="0.75")  # one day = 0.025 USD exactly
    r = p.get(f"/partners/{p.name}/topups/quote", params={"days": 1})
    assert r.status_code == 200, r.text
    assert r.json() == {"days": 1, "unitPrice": "0.75", "subtotal": "0.03", "discountPercent": "0",
                        "discount": "0.00", "total": "0.03", "currency": "USD"}
    assert p.get(f"/partners/{p.name}/topups/quote", params={"days": 3000}).json()["total"] == "75.00"


@pytest.mark.parametrize("params", [
    {}, {"days": 30, "channels": 1}, {"days": 0}, {"days": -1}, {"days": 1_000_001}, {"channels": 0},
    {"channels": -3}, {"channels": 33_334}, {"days": '"5"'}, {"days": "5.5"}, {"days": "1e3"}, {"days": "five"},
    {"channels": ""},
])
def test_bad_parameters_are_422(make_partner, params):
    p = make_partner()
    check_error(p.get(f"/partners/{p.name}/topups/quote", params=params), 422)


def test_the_largest_quote_and_who_may_ask(make_partner, admin, base_url):
    p = make_partner(currency="USD", pricePerMonth="30")
    other = make_partner()
    r = p.get(f"/partners/{p.name}/topups/quote", params={"days": 1_000_000})
    assert r.status_code == 200 and r.json()["total"] == "1000000.00", r.text
    # The operator may price any partner's days; a read token may too; another partner may not.
    assert admin.get(f"/partners/{p.name}/topups/quote", params={"days": 30}).json()["total"] == "30.00"
    token = admin.post(f"/admin/partners/{p.name}/tokens", json={"name": "ro", "scope": "read"}).json()["token"]
    with new_client(base_url, token) as ro:
        assert ro.get(f"/partners/{p.name}/topups/quote", params={"days": 30}).status_code == 200
    check_error(other.get(f"/partners/{p.name}/topups/quote", params={"days": 30}), 403)
    check_error(admin.get("/partners/nobody-here/topups/quote", params={"days": 30}), 404)
    with new_client(base_url) as anonymous:
        check_error(anonymous.get(f"/partners/{p.name}/topups/quote", params={"days": 30}), 401)
