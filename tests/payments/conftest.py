"""Payment test support: localstripe (a stateful Stripe emulator) and the Checkout stand-in
in front of it, started as real processes; a second dayledger server on the test database
configured with Stripe; signed events.

localstripe has no Checkout Sessions and no invoices sent to the customer:
tests/payments/checkout_standin.py serves those APIs (a local stand-in, named as such) and
forwards the rest to localstripe."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import stripe

from conftest import LiveServer, PartnerHandle, free_port, new_client
from dayledger.app import create_app
from dayledger.context import Services
from dayledger.db import Database
from dayledger.idempotency import InFlight
from dayledger.worker import run_once

STANDIN = Path(__file__).with_name("checkout_standin.py")
SECRET_KEY = "sk_test_dayledger_suite"
WEBHOOK_SECRET = "whsec_dayledger_suite_" + secrets.token_hex(8)


@dataclass
class StripeEnv:
    localstripe_url: str
    standin_url: str
    secret_key: str
    webhook_secret: str
    stripe: stripe.StripeClient  # straight to localstripe


def _wait_http(url: str, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start at {url}")


@pytest.fixture(scope="session")
def stripe_env(tmp_path_factory) -> StripeEnv:
    logs = tmp_path_factory.mktemp("stripe")
    ls_port, si_port = free_port(), free_port()
    procs = []
    try:
        ls = subprocess.Popen([sys.executable, "-m", "localstripe", "--port", str(ls_port), "--from-scratch"],
                              stdout=open(logs / "localstripe.log", "w"), stderr=subprocess.STDOUT,
                              cwd=logs)  # localstripe keeps its store in the working directory
        procs.append(ls)
        ls_url = f"http://127.0.0.1:{ls_port}"
        _wait_http(ls_url + "/v1/customers", ls, "localstripe")
        si = subprocess.Popen([sys.executable, str(STANDIN), "--port", str(si_port), "--upstream", ls_url],
                              stdout=open(logs / "standin.log", "w"), stderr=subprocess.STDOUT)
        procs.append(si)
        si_url = f"http://127.0.0.1:{si_port}"
        _wait_http(si_url + "/pay/none", si, "checkout stand-in")
        client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": ls_url}, max_network_retries=0)
        yield StripeEnv(ls_url, si_url, SECRET_KEY, WEBHOOK_SECRET, client)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="session")
def pay_settings(settings, stripe_env, tmp_path_factory):
    port = free_port()
    return settings.model_copy(update={
        "stripe_secret_key": stripe_env.secret_key, "stripe_webhook_secret": stripe_env.webhook_secret,
        "stripe_api_base": stripe_env.standin_url, "public_url": f"http://127.0.0.1:{port}",
        "port": port, "data_dir": tmp_path_factory.mktemp("paydata")})


@pytest.fixture(scope="session")
def pay_server(pay_settings, clock, stripe_env) -> LiveServer:
    live = LiveServer(create_app(pay_settings, clock=clock), pay_settings.port).start()
    hook = live.url + "/stripe/webhook"
    # Both emulators send their signed events to this server.
    r = httpx.post(f"{stripe_env.localstripe_url}/_config/webhooks/dayledger",
                   data={"url": hook, "secret": stripe_env.webhook_secret})
    assert r.status_code == 200, r.text
    r = httpx.post(f"{stripe_env.standin_url}/_standin/config",
                   json={"webhook_url": hook, "webhook_secret": stripe_env.webhook_secret})
    assert r.status_code == 200, r.text
    yield live
    live.stop()


@pytest.fixture(scope="session")
def pay_url(pay_server) -> str:
    return pay_server.url


@pytest.fixture(scope="session")
def pay_admin(pay_url, operator_token):
    with new_client(pay_url, operator_token) as c:
        yield c


@pytest.fixture
def make_payer(make_partner, pay_url):
    """``make_partner``, but the handle's client talks to the Stripe-configured server."""
    clients: list[httpx.Client] = []

    def make(**fields) -> PartnerHandle:
        p = make_partner(**fields)
        client = new_client(pay_url, p.token)
        clients.append(client)
        return PartnerHandle(p.name, p.id, p.token, p.project_id, client)
    yield make
    for c in clients:
        c.close()


def signature(payload: bytes, secret: str, timestamp: int) -> str:
    """A ``Stripe-Signature`` header as Stripe computes it."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def event_body(type: str, obj: dict, *, event_id: str | None = None, created: int | None = None) -> bytes:
    return json.dumps({"id": event_id or "evt_test_" + secrets.token_hex(12), "object": "event", "type": type,
                       "created": created or int(time.time()), "livemode": False,
                       "data": {"object": obj}}).encode()


@pytest.fixture(scope="session")
def send_event(pay_url, stripe_env) -> Callable[..., httpx.Response]:
    """POST a signed Stripe event to the pay server (``secret``/``timestamp`` to forge)."""
    def send(type: str, obj: dict, *, event_id: str | None = None, created: int | None = None,
             secret: str | None = None, timestamp: int | None = None) -> httpx.Response:
        body = event_body(type, obj, event_id=event_id, created=created)
        ts = timestamp or int(time.time())
        return httpx.post(pay_url + "/stripe/webhook", content=body, timeout=30,
                          headers={"Content-Type": "application/json",
                                   "Stripe-Signature": signature(body, secret or stripe_env.webhook_secret, ts)})
    return send


@pytest.fixture(scope="session")
def checkout_complete(stripe_env, pay_server) -> Callable[..., dict]:
    """Pay a Checkout Session in the stand-in; the completion event has reached the pay
    server when this returns."""
    def complete(session_id: str, card: str = "4242424242424242", expect: int = 200) -> dict:
        r = httpx.post(f"{stripe_env.standin_url}/_standin/sessions/{session_id}/complete", json={"card": card},
                       timeout=30)
        assert r.status_code == expect, r.text
        return r.json()
    return complete


@pytest.fixture(scope="session")
def standin_session(stripe_env) -> Callable[[str], dict]:
    """The stand-in's view of a Checkout Session (what dayledger sent when creating it)."""
    def get(session_id: str) -> dict:
        r = httpx.get(f"{stripe_env.standin_url}/v1/checkout/sessions/{session_id}",
                      headers={"Authorization": f"Bearer {stripe_env.secret_key}"})
        assert r.status_code == 200, r.text
        return r.json()
    return get


@pytest.fixture(scope="session")
def standin_invoice(stripe_env) -> Callable[[str], dict]:
    """The stand-in's copy of a Stripe invoice it issued (created, finalized, paid, voided)."""
    def get(invoice_id: str) -> dict:
        r = httpx.get(f"{stripe_env.standin_url}/v1/invoices/{invoice_id}",
                      headers={"Authorization": f"Bearer {stripe_env.secret_key}"})
        assert r.status_code == 200, r.text
        return r.json()
    return get


@pytest.fixture(scope="session")
def invoice_pay_hosted(stripe_env, pay_server) -> Callable[..., dict]:
    """Pay a Stripe invoice on the stand-in's hosted page (the card charged in localstripe);
    its signed invoice.paid and invoice.payment_succeeded have reached the pay server when
    this returns."""
    def pay(invoice_stripe_id: str, card: str = "4242424242424242", expect: int = 200) -> dict:
        r = httpx.post(f"{stripe_env.standin_url}/_standin/invoices/{invoice_stripe_id}/pay-hosted",
                       json={"card": card}, timeout=30)
        assert r.status_code == expect, r.text
        return r.json()
    return pay


@pytest.fixture
def run_worker(pay_settings, clock) -> Callable[[], dict[str, int]]:
    """Every worker job once, as a worker process with the pay server's settings would."""
    def run() -> dict[str, int]:
        async def main():
            db = Database(pay_settings.sqlalchemy_url(), pool_size=2)
            try:
                return await run_once(Services(settings=pay_settings, db=db, clock=clock, in_flight=InFlight()))
            finally:
                await db.dispose()
        return asyncio.run(main())
    return run


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.1):
    """Poll ``predicate`` until it returns something truthy; that value (or AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {predicate}")
        time.sleep(interval)


@pytest.fixture(scope="session")
def wait():
    return wait_for


