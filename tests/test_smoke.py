def test_partner_reads_its_balance(make_partner, assert_ledger_sound):
    p = make_partner(balance=10)
    assert p.balance == 10
    r = p.get(f"/partners/{p.name}/history")
    assert r.status_code == 200
    assert [e["type"] for e in r.json()["history"]] == ["adjustment"]
    assert_ledger_sound()
