"""The dashboard and the console in a real browser: Playwright for Python driving Debian's
``chromium`` through its executable path (installed by ``.ci/run``; never ``playwright
install``). Every page a test opens is checked: nothing is requested outside the app, the
browser console shows no error, the page has a title and every input a label."""

from __future__ import annotations

import secrets
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dayledger.partners import service as partners
from dayledger.users import service as users

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery"
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    return sync_playwright


pytestmark = pytest.mark.skipif(_playwright() is None or not shutil.which(CHROMIUM),
                                reason="needs the playwright package and Debian's chromium at /usr/bin/chromium "
                                       "(.ci/run installs it; apt-get install chromium); never `playwright install`")


def in_thread(fn, *args):
    """Run ``fn`` in another thread: Playwright's sync API keeps an event loop running in
    this one, where ``asyncio.run`` (the ``db`` fixture's) cannot start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _playwright()
    assert sync_playwright is not None
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@dataclass
class Person:
    email: str
    password: str
    role: str
    partner: object | None  # the PartnerHandle, or None for an operator


@pytest.fixture
def make_user(db, clock):
    """A person who signs in: ``make_user(partner_handle, role)`` or ``make_user(None)``
    for an operator user (created through the same service as ``dayledger user create``)."""
    def make(partner=None, role: str = "owner") -> Person:
        email = f"{role}-{secrets.token_hex(4)}@example.com"

        async def fn(session):
            owner = await partners.get(session, partner.name) if partner else None
            await users.create(session, email=email, password=PASSWORD, partner=owner, role=role,
                               now_ms=clock.now_ms())
        in_thread(db.run, fn)
        return Person(email, PASSWORD, role if partner else "operator", partner)
    return make


class Checked:
    """A page with its watchers: requests leaving the app and console errors are collected
    and asserted empty when the test ends (``expect_status_errors`` lets a test open pages
    that answer 403 or 404 on purpose: the browser logs those documents' status)."""

    def __init__(self, page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.allowed_statuses: set[int] = set()
        host = urlsplit(base_url).netloc

        def on_request(request) -> None:
            url = urlsplit(request.url)
            if url.scheme not in ("data", "blob") and url.netloc != host:
                self.outside.append(request.url)

        def on_console(message) -> None:
            if message.type == "error":
                text = message.text
                if any(f"status of {s}" in text for s in self.allowed_statuses):
                    return
                self.errors.append(text)
        page.on("request", on_request)
        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def goto(self, path: str):
        return self.page.goto(self.base_url + path)

    def check_page(self) -> None:
        """A title, and a label for every input a person fills in."""
        assert self.page.title().strip(), self.page.url
        unlabelled = self.page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
            .filter(e => e.type !== 'hidden' && e.type !== 'submit' && !e.labels.length
                         && !e.getAttribute('aria-label'))
            .map(e => e.outerHTML)""")
        assert unlabelled == [], (self.page.url, unlabelled)

    def screenshot(self, name: str) -> None:
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(DOCS_IMAGES / f"{name}.png"), full_page=True)


@pytest.fixture
def web(browser, base_url):
    """A fresh browser context (no cookies) and its checked page; ``web.page`` is Playwright's."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    checked = Checked(context.new_page(), base_url)
    yield checked
    context.close()
    assert checked.outside == [], f"requests outside the app: {checked.outside}"
    assert checked.errors == [], f"browser console errors: {checked.errors}"


def sign_in(web: Checked, person: Person, home: str = "/dashboard/") -> None:
    web.goto("/login")
    web.check_page()
    web.page.get_by_label("Email").fill(person.email)
    web.page.get_by_label("Password").fill(person.password)
    web.page.get_by_role("button", name="Sign in").click()
    web.page.wait_for_url(f"**{home}")
