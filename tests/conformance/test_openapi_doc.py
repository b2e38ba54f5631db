"""Our /openapi.json tells the truth about tokens, idempotency keys and operation names,
and /docs and /redoc work with no network but the server's own.

Each claim of the document is checked twice: that the document says it, and that the
running server behaves as it says (a token in either place works, a key replays).
"""

from __future__ import annotations

import re
import secrets
import shutil
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from conftest import check_error
from dayledger.api.handling import ApiRoute

MUTATING = {"post", "put", "patch", "delete"}
OPERATION_ID = re.compile(r"^[a-z][A-Za-z0-9]*$")
# The operations of the Whapi Partner API reference, with the ids it gives them.
REFERENCE_IDS = {
    ("put", "/channels"): "createChannel",
    ("get", "/channels/list"): "getChannels",
    ("get", "/channels/list/{ProjectID}"): "getChannelsByProjectID",
    ("get", "/channels/{ChannelID}"): "getChannel",
    ("patch", "/channels/{ChannelID}"): "updateChannel",
    ("delete", "/channels/{ChannelID}"): "deleteChannel",
    ("post", "/channels/{ChannelID}/start"): "startChannel",
    ("post", "/channels/{ChannelID}/stop"): "stopChannel",
    ("post", "/channels/{ChannelID}/restart"): "restartChannel",
    ("post", "/channels/{ChannelID}/extend"): "extendChannel",
    ("patch", "/channels/{ChannelID}/mode"): "changeChannelMode",
    ("get", "/projects"): "getProjects",
    ("put", "/projects"): "createProject",
    ("get", "/projects/{ProjectID}"): "getProject",
    ("patch", "/projects/{ProjectID}"): "updateProject",
    ("delete", "/projects/{ProjectID}"): "deleteProject",
    ("get", "/partners/{PartnerName}/settings"): "getPartnerSettings",
    ("patch", "/partners/{PartnerName}/settings"): "setPartnerSettings",
}
SECURITY = [{"bearerToken": []}, {"queryToken": []}]


@pytest.fixture(scope="module")
def doc(http) -> dict:
    r = http.get("/openapi.json")
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def api_operations(app) -> set[tuple[str, str]]:
    """(method, path) of every JSON API operation, told by the route class, not by path."""
    ops = {(m.lower(), str(c.path_format)) for c in iter_route_contexts(app.routes)
           if isinstance(c.original_route, ApiRoute) and c.include_in_schema for m in c.methods or ()}
    assert len(ops) >= 40, ops
    return ops


def operations(doc: dict):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield method, path, op


def test_security_schemes_cover_every_api_operation(doc, app, api_operations):
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerToken"]["type"] == "http" and schemes["bearerToken"]["scheme"] == "bearer"
    assert {k: schemes["queryToken"][k] for k in ("type", "in", "name")} == {"type": "apiKey", "in": "query",
                                                                            "name": "token"}
    assert set(schemes) == {"bearerToken", "queryToken"}
    documented = {(m, p) for m, p, _ in operations(doc)}
    assert api_operations <= documented, api_operations - documented
    for method, path, op in operations(doc):
        if (method, path) in api_operations:
            assert op.get("security") == SECURITY, (method, path, op.get("security"))
        else:  # docs, health, metrics: open to anyone, so no padlock
            assert "security" not in op, (method, path)
    # Nothing else in the app needs a token, so no global requirement.
    assert "security" not in doc


def test_either_documented_token_place_is_honoured(http, make_partner):
    partner = make_partner()
    check_error(http.get("/channels/list"), 401)
    assert http.get("/channels/list", headers={"Authorization": f"Bearer {partner.token}"}).status_code == 200
    assert http.get("/channels/list", params={"token": partner.token}).status_code == 200
    check_error(http.get("/channels/list", params={"token": "dlp_" + "x" * 40}), 401)


def test_every_mutating_api_operation_declares_idempotency_key(doc, api_operations):
    mutating = 0
    for method, path, op in operations(doc):
        keys = [p for p in op.get("parameters", []) if p["name"].lower() == "idempotency-key"]
        if method not in MUTATING or (method, path) not in api_operations:
            assert not keys, (method, path)
            continue
        mutating += 1
        assert len(keys) == 1, (method, path)
        key = keys[0]
        assert key["in"] == "header" and key["required"] is False, key
        assert key["schema"] == {"type": "string", "minLength": 1, "maxLength": 255}, key
        for rule in ("Idempotent-Replayed: true", "422", "409", "72 hours"):
            assert rule in key["description"], (rule, key["description"])
        successes = {s: r for s, r in op["responses"].items() if s.startswith("2")}
        assert successes, (method, path)
        for status, response in successes.items():
            header = response.get("headers", {}).get("Idempotent-Replayed")
            assert header and header["schema"] == {"type": "string", "enum": ["true"]}, (method, path, status)
        assert {"409", "422"} <= set(op["responses"]), (method, path)
    assert mutating >= 20


def test_idempotency_key_behaves_as_documented(make_partner):
    partner = make_partner()
    key = secrets.token_hex(8)
    first = partner.put("/projects", json={"name": "keyed"}, headers={"Idempotency-Key": key})
    assert first.status_code == 200, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = partner.put("/projects", json={"name": "keyed"}, headers={"Idempotency-Key": key})
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    check_error(partner.put("/projects", json={"name": "other"}, headers={"Idempotency-Key": key}), 422)
    # The documented bounds: 255 characters pass, 256 do not.
    assert partner.put("/projects", json={"name": "k"}, headers={"Idempotency-Key": "k" * 255}).status_code == 200
    check_error(partner.put("/projects", json={"name": "k"}, headers={"Idempotency-Key": "k" * 256}), 422)


def test_operation_ids_are_readable_unique_and_keep_the_reference(doc):
    ids = {(m, p): op.get("operationId") for m, p, op in operations(doc)}
    assert all(isinstance(i, str) and OPERATION_ID.match(i) for i in ids.values()), \
        sorted(i for i in ids.values() if not OPERATION_ID.match(str(i)))
    assert len(set(ids.values())) == len(ids), sorted(i for i in ids.values() if list(ids.values()).count(i) > 1)
    assert {k: ids.get(k) for k in REFERENCE_IDS} == REFERENCE_IDS
    # Every other id comes from its function's name; operator routes say so.
    for (method, path), op_id in ids.items():
        if path.startswith("/admin/"):
            assert op_id.startswith("admin"), (method, path, op_id)
    derived = {("get", "/partners/{PartnerName}/history.csv"): "getHistoryCsv",
               ("post", "/channels/extend"): "extendChannels",
               ("post", "/admin/partners"): "adminCreatePartner",
               ("get", "/admin/partners/{PartnerName}"): "adminGetPartner",
               ("get", "/partners/{PartnerName}"): "getPartner"}
    assert {k: ids.get(k) for k in derived} == derived


def test_generated_ids_follow_function_names(app, doc):
    """The rule, for every operation without an id of its own: camelCase of its function,
    prefixed for /admin and /gateway (so a renamed function cannot keep a stale id)."""
    by_route = {}
    for c in iter_route_contexts(app.routes):
        if isinstance(c.original_route, APIRoute) and c.include_in_schema and not c.operation_id:
            for m in c.methods or ():
                by_route[(m.lower(), str(c.path_format))] = str(c.name)
    assert len(by_route) >= 20
    for (method, path), name in by_route.items():
        words = [w for w in name.split("_") if w]
        prefix = [p for p in ("admin", "gateway") if path.startswith(f"/{p}/")]
        words = prefix + words
        expected = words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])
        assert doc["paths"][path][method]["operationId"] == expected, (method, path)


class Assets(HTMLParser):
    """Every URL an HTML page makes the browser load or send."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and name in ("src", "href", "spec-url", "action", "data"):
                self.urls.append(value)


EXPECTED_TYPES = {".js": ("text/javascript", "application/javascript"), ".css": ("text/css",),
                  ".png": ("image/png",), ".json": ("application/json",)}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_everything_from_the_app_itself(http, base_url, page):
    r = http.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), r.headers
    html = r.text
    # No absolute URL of any kind: not in a tag, not in the inline script, not in a comment.
    assert not re.search(r"(?i)\b[a-z][a-z0-9+.-]*://|['\"(=]\s*//", html), re.findall(r"\S*//\S*", html)
    parser = Assets()
    parser.feed(html)
    urls = parser.urls + re.findall(r"\burl:\s*'([^']+)'", html)  # Swagger UI's document URL
    assert any(u.endswith("/openapi.json") for u in urls), urls
    assert any(u.endswith(".js") for u in urls), urls
    for url in urls:
        absolute = urljoin(base_url + page, url)
        assert urlsplit(absolute).netloc == urlsplit(base_url).netloc, url
        asset = http.get(absolute)
        assert asset.status_code == 200, (url, asset.status_code)
        suffix = re.search(r"\.[a-z]+$", urlsplit(absolute).path)
        assert suffix, url
        assert asset.headers["content-type"].split(";")[0] in EXPECTED_TYPES[suffix.group()], (url, asset.headers)
        if suffix.group() == ".js":
            assert len(asset.content) > 100_000, (url, len(asset.content))  # the real bundle, not a stub
    if page == "/docs":
        assert '"persistAuthorization": true' in html, html
    # And the browser is told to load nothing from anywhere else, whatever a script asks for.
    policy = dict(d.strip().split(None, 1) for d in r.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'self'", policy
    for directive, sources in policy.items():
        assert set(sources.split()) <= {"'self'", "'unsafe-inline'", "data:", "blob:"}, (directive, sources)


def test_docs_assets_refuse_what_is_not_there(http):
    check_error(http.get("/docs/assets/nothing.js"), 404)
    check_error(http.get("/docs/assets/../openapi.py"), 404)


CHROMIUM = "/usr/bin/chromium"


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    return sync_playwright


@pytest.mark.skipif(_playwright() is None or not shutil.which(CHROMIUM),
                    reason="needs the playwright package and Debian's chromium at /usr/bin/chromium "
                           "(apt-get install chromium); never `playwright install`")
def test_docs_render_offline_and_authorize_sends_the_token(base_url, make_partner):
    """Swagger UI in a real browser that may reach 127.0.0.1 only: it renders, Authorize
    takes a bearer token, the token survives a reload, and Try it out sends it."""
    partner = make_partner()
    blocked: list[str] = []
    sent: list[dict] = []
    sync_playwright = _playwright()
    assert sync_playwright is not None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context()

            def route(r):
                if urlsplit(r.request.url).hostname == "127.0.0.1":
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()
            context.route("**/*", route)
            page = context.new_page()
            page.on("request", lambda req: sent.append({"url": req.url, "headers": req.headers})
                    if "/channels/list" in req.url else None)

            page.goto(base_url + "/docs")
            page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
            assert "dayledger" in page.inner_text(".swagger-ui .info .title")
            assert page.locator(".opblock").count() >= 40

            page.click("button.authorize")
            bearer = page.locator("div.modal-ux .auth-container", has_text="bearerToken")
            bearer.locator("input").fill(partner.token)
            bearer.locator("button.authorize").click()
            page.locator("div.modal-ux button.btn-done").first.click()

            page.reload()
            page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
            op = page.locator("#operations-Channels-getChannels")
            op.locator(".opblock-summary").click()
            op.locator("button.try-out__btn").click()
            op.locator("button.execute").click()
            op.locator(".responses-table.live-responses-table").wait_for(timeout=30_000)
            assert op.locator(".live-responses-table tbody .response-col_status").first.inner_text().strip() == "200"

            redoc = context.new_page()
            redoc.goto(base_url + "/redoc")
            redoc.wait_for_selector("h1:has-text('dayledger')", timeout=30_000)
        finally:
            browser.close()
    assert not blocked, blocked
    assert sent and sent[-1]["headers"].get("authorization") == f"Bearer {partner.token}", sent
