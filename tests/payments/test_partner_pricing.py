"""The operator's pricing settings on a partner: volume discounts, the annual discount of
subscriptions, invoice billing; shown on the profile with the partner's debt."""

import pytest

from conftest import check_error


def test_the_operator_sets_discounts_and_the_profile_shows_them(admin, make_partner):
    p = make_partner()
    r = admin.patch(f"/admin/partners/{p.name}", json={
        "discounts": [{"fromDays": 3000, "percent": "10"}, {"fromDays": 900, "percent": "5.5"}],
        "annualDiscountPercent": "15", "invoiceBilling": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["discounts"] == [{"fromDays": 900, "percent": "5.5"}, {"fromDays": 3000, "percent": "10"}]
    assert body["annualDiscountPercent"] == "15" and body["invoiceBilling"] is True and body["debtDays"] == 0
    assert p.get(f"/partners/{p.name}").json()["discounts"] == body["discounts"]
    r = admin.patch(f"/admin/partners/{p.name}", json={"discounts": []})
    assert r.status_code == 200 and r.json()["discounts"] == [] and r.json()["annualDiscountPercent"] == "15"


@pytest.mark.parametrize("body", [
    {"discounts": [{"fromDays": 900, "percent": "5"}, {"fromDays": 900, "percent": "6"}]},
    {"discounts": [{"fromDays": 0, "percent": "5"}]},
    {"discounts": [{"fromDays": 900, "percent": "100.5"}]},
    {"discounts": [{"fromDays": 900, "percent": "-1"}]},
    {"discounts": [{"fromDays": "900", "percent": "5"}]},
    {"discounts": [{"fromDays": 900}]},
    {"discounts": [{"fromDays": 900, "percent": "5", "extra": 1}]},
    {"discounts": [{"fromDays": i + 1, "percent": "1"} for i in range(21)]},
    {"discounts": {"fromDays": 900, "percent": "5"}},
    {"annualDiscountPercent": "101"},
    {"annualDiscountPercent": "1.23456"},
    {"invoiceBilling": "yes"},
])
def test_bad_pricing_is_refused_and_changes_nothing(admin, make_partner, body):
    p = make_partner()
    before = admin.get(f"/admin/partners/{p.name}").json()
    check_error(admin.patch(f"/admin/partners/{p.name}", json=body), 422)
    assert admin.get(f"/admin/partners/{p.name}").json() == before


def test_a_partner_cannot_set_its_own_discounts(make_partner):
    p = make_partner()
    check_error(p.patch(f"/admin/partners/{p.name}", json={"discounts": []}), 403)
