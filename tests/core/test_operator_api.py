"""The operator reads any partner's channels, projects and history, and lists and revokes
any token, through the API."""

from __future__ import annotations

import csv
import io

from conftest import check_error, new_client


def test_operator_reads_a_partners_channels_projects_and_history(admin, make_partner):
    p = make_partner(balance=40)
    other = make_partner(balance=5)
    ch = p.put("/channels", json={"name": "Shop", "projectId": p.project_id}).json()
    p.put("/channels", json={"name": "Desk", "projectId": p.project_id})
    assert p.post(f"/channels/{ch['id']}/extend", json={"days": 7, "comment": "a week"}).status_code == 200
    p.put("/projects", json={"name": "Side"})

    r = admin.get(f"/admin/partners/{p.name}/channels")
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 2 and {c["name"] for c in r.json()["channels"]} == {"Shop", "Desk"}
    assert r.json() == p.get("/channels/list").json()  # the partner's own view, exactly
    assert admin.get(f"/admin/partners/{p.name}/channels", params={"q": "shop"}).json()["total"] == 1
    assert admin.get(f"/admin/partners/{other.name}/channels").json()["total"] == 0

    r = admin.get(f"/admin/partners/{p.name}/projects")
    assert r.status_code == 200 and {x["name"] for x in r.json()["projects"]} == {"Default", "Side"}, r.text

    r = admin.get(f"/admin/partners/{p.name}/history")
    assert r.status_code == 200 and r.json() == p.get(f"/partners/{p.name}/history").json(), r.text
    assert [e["type"] for e in r.json()["history"]] == ["extend", "adjustment"]
    assert admin.get(f"/admin/partners/{p.name}/history", params={"type": "extend"}).json()["total"] == 1

    r = admin.get(f"/admin/partners/{p.name}/history.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][0] == "ID" and [row[7] for row in rows[1:]] == ["test funds", "a week"]

    for path in ("channels", "projects", "history", "history.csv"):
        check_error(admin.get(f"/admin/partners/nobody-here/{path}"), 404)
        check_error(p.get(f"/admin/partners/{p.name}/{path}"), 403, message="operator")


def test_operator_lists_and_revokes_any_token(admin, make_partner, base_url):
    p = make_partner()
    extra = admin.post(f"/admin/partners/{p.name}/tokens", json={"name": "ci", "scope": "read"}).json()

    r = admin.get("/admin/tokens", params={"partner": p.name})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 2 and {t["name"] for t in body["tokens"]} == {"test", "ci"}
    assert all(t["partner"] == p.name and t["kind"] == "partner" for t in body["tokens"])
    assert "token" not in r.text.replace('"tokens"', "")  # never a secret
    ops = admin.get("/admin/tokens", params={"kind": "operator", "count": 500}).json()
    assert ops["total"] >= 1 and all(t["kind"] == "operator" and "partner" not in t for t in ops["tokens"])

    with new_client(base_url, extra["token"]) as c:
        assert c.get(f"/partners/{p.name}").status_code == 200
        r = admin.delete(f"/admin/tokens/{extra['id']}")
        assert r.status_code == 200 and r.json()["revokedAt"] is not None, r.text
        check_error(c.get(f"/partners/{p.name}"), 401, message="revoked")
    # Revoking again changes nothing; an unknown id is 404; a partner token cannot use the route.
    again = admin.delete(f"/admin/tokens/{extra['id']}")
    assert again.status_code == 200 and again.json()["revokedAt"] == r.json()["revokedAt"]
    check_error(admin.delete("/admin/tokens/tok_AAAAAAAAAAAAAAAA"), 404)
    check_error(p.delete(f"/admin/tokens/{extra['id']}"), 403)
    check_error(admin.get("/admin/tokens", params={"kind": "robot"}), 422)
    check_error(admin.get("/admin/tokens", params={"partner": "nobody-here"}), 404)
