"""A local stand-in for Stripe Checkout, in front of localstripe (which has no Checkout).

Named as such wherever it is used: it is not Stripe. It serves the one API localstripe
lacks -- ``/v1/checkout/sessions`` (create, retrieve, expire) -- and forwards every other
``/v1`` call to localstripe untouched, so dayledger's official ``stripe`` library talks to
one base URL as it would to Stripe. Paying a session (the ``/pay/{id}`` page a person
opens, or ``POST /_standin/sessions/{id}/complete`` from a test) does in localstripe what
Checkout does in Stripe -- a PaymentIntent (mode payment), a confirmed SetupIntent with the
card attached to the customer (mode setup), or a product, plan and subscription (mode
subscription; localstripe then sends its own invoice events) -- and POSTs a
``checkout.session.completed`` event signed like Stripe's (``Stripe-Signature``, HMAC-SHA256)
to the configured webhook URL before it answers.

    python tests/payments/checkout_standin.py --port 8421 --upstream http://127.0.0.1:8420 \\
        --webhook-url http://127.0.0.1:8080/stripe/webhook --webhook-secret whsec_...
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import html
import json
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import stripe
from aiohttp import web

SESSIONS: dict[str, dict[str, Any]] = {}
BACKGROUND: set[asyncio.Task] = set()
CONFIG: dict[str, Any] = {"upstream": "http://127.0.0.1:8420", "webhook_url": None, "webhook_secret": None}


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=v``) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt: Any = value if last else ([] if parts[i + 1].isdigit() else {})
            if isinstance(node, list):
                idx = int(part)
                while len(node) <= idx:
                    node.append(None)
                if node[idx] is None or last:
                    node[idx] = nxt
                node = node[idx]
            else:
                if part not in node or last:
                    node[part] = nxt
                node = node[part]
    return root


def upstream() -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_standin", base_addresses={"api": CONFIG["upstream"]},
                               max_network_retries=0)


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


async def send_event(type: str, obj: dict[str, Any]) -> int | None:
    """POST a signed event to the configured webhook URL; its status, or None if none is set."""
    url, secret = CONFIG["webhook_url"], CONFIG["webhook_secret"]
    if not url or not secret:
        return None
    now = int(time.time())
    event = {"id": "evt_standin_" + secrets.token_hex(12), "object": "event", "type": type, "created": now,
             "livemode": False, "api_version": "2024-06-20", "data": {"object": obj}}
    payload = json.dumps(event).encode()
    async with aiohttp.ClientSession() as http, http.post(
            url, data=payload, headers={"Content-Type": "application/json",
                                        "Stripe-Signature": sign(payload, secret, now)}) as r:
        return r.status


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


async def create_session(request: web.Request) -> web.Response:
    p = decode_form(await request.text())
    mode = p.get("mode")
    if mode not in ("payment", "setup", "subscription"):
        return error(400, "mode must be payment, setup or subscription")
    items = p.get("line_items") or []
    total, currency = 0, p.get("currency")
    for item in items:
        data = item.get("price_data") or {}
        total += _int(data.get("unit_amount")) * _int(item.get("quantity"), 1)
        currency = data.get("currency") or currency
    if mode != "setup" and (not items or total <= 0 or not currency):
        return error(400, "line_items with price_data (currency, unit_amount) are required")
    sid = "cs_test_" + secrets.token_hex(16)
    now = int(time.time())
    base = str(request.url.origin())
    SESSIONS[sid] = {
        "id": sid, "object": "checkout.session", "mode": mode, "status": "open",
        "payment_status": "no_payment_required" if mode == "setup" else "unpaid",
        "amount_total": total if mode != "setup" else None, "amount_subtotal": total if mode != "setup" else None,
        "currency": currency, "customer": p.get("customer"), "client_reference_id": p.get("client_reference_id"),
        "metadata": p.get("metadata") or {}, "success_url": p.get("success_url"), "cancel_url": p.get("cancel_url"),
        "url": f"{base}/pay/{sid}", "payment_intent": None, "setup_intent": None, "subscription": None,
        "created": now, "expires_at": now + 24 * 3600, "livemode": False,
        "_line_items": items, "_payment_intent_data": p.get("payment_intent_data") or {},
        "_subscription_data": p.get("subscription_data") or {},
    }
    return web.json_response(public(SESSIONS[sid]))


def public(session: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in session.items() if not k.startswith("_")}


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"type": "invalid_request_error", "message": message}}, status=status)


async def get_session(request: web.Request) -> web.Response:
    s = SESSIONS.get(request.match_info["id"])
    return web.json_response(public(s)) if s else error(404, "No such checkout.session")


async def expire_session(request: web.Request) -> web.Response:
    s = SESSIONS.get(request.match_info["id"])
    if not s:
        return error(404, "No such checkout.session")
    if s["status"] != "open":
        return error(400, f"session is {s['status']}")
    s["status"] = "expired"
    # Sent after answering, as Stripe does: the caller may be inside a transaction that the
    # event's processing would wait for.
    task = asyncio.get_running_loop().create_task(send_event("checkout.session.expired", public(s)))
    BACKGROUND.add(task)
    task.add_done_callback(BACKGROUND.discard)
    return web.json_response(public(s))


def _card(client: stripe.StripeClient, number: str) -> Any:
    return client.v1.payment_methods.create(params={
        "type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}})


def _pay(s: dict[str, Any], number: str) -> None:
    """What Checkout does in Stripe, done in localstripe (blocking: run in a thread)."""
    client = upstream()
    if s["mode"] == "payment":
        pm = _card(client, number)
        params: dict[str, Any] = {"amount": s["amount_total"], "currency": s["currency"], "payment_method": pm.id,
                                  "confirm": True,
                                  "metadata": (s["_payment_intent_data"].get("metadata") or {})}
        if s["customer"]:
            client.v1.payment_methods.attach(pm.id, params={"customer": s["customer"]})
            params["customer"] = s["customer"]
        pi = client.v1.payment_intents.create(params=params)
        s["payment_intent"] = pi.id
        s["payment_status"] = "paid" if pi.status == "succeeded" else "unpaid"
    elif s["mode"] == "setup":
        pm = _card(client, number)
        client.v1.payment_methods.attach(pm.id, params={"customer": s["customer"]})
        seti = client.v1.setup_intents.create(params={"customer": s["customer"], "usage": "off_session"})
        client.v1.setup_intents.confirm(seti.id, params={"payment_method": pm.id})
        s["setup_intent"] = seti.id
    else:
        pm = _card(client, number)
        client.v1.payment_methods.attach(pm.id, params={"customer": s["customer"]})
        client.v1.customers.update(s["customer"], params={"invoice_settings": {"default_payment_method": pm.id}})
        item = s["_line_items"][0]["price_data"]
        product = client.v1.products.create(params={"name": (item.get("product_data") or {}).get("name", "item")})
        plan = client.v1.plans.create(params={"amount": _int(item["unit_amount"]), "currency": item["currency"],
                                              "interval": (item.get("recurring") or {}).get("interval", "month"),
                                              "product": product.id})
        sub = client.v1.subscriptions.create(params={
            "customer": s["customer"], "items": [{"plan": plan.id}],
            "metadata": s["_subscription_data"].get("metadata") or {}})
        s["subscription"] = sub.id
        s["payment_status"] = "paid"
    s["status"] = "complete"


async def complete(sid: str, number: str) -> tuple[int, dict[str, Any]]:
    s = SESSIONS.get(sid)
    if not s:
        return 404, {"error": {"message": "No such checkout.session"}}
    if s["status"] != "open":
        return 400, {"error": {"message": f"session is {s['status']}"}}
    try:
        await asyncio.to_thread(_pay, s, number)
    except stripe.CardError as exc:
        return 402, {"error": {"message": str(exc.user_message), "code": exc.code}}
    await send_event("checkout.session.completed", public(s))
    return 200, public(s)


async def complete_api(request: web.Request) -> web.Response:
    body = await request.json() if request.can_read_body else {}
    status, out = await complete(request.match_info["id"], body.get("card") or "4242424242424242")
    return web.json_response(out, status=status)


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Checkout stand-in</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body style="font-family:sans-serif;max-width:28rem;margin:2rem auto">
<p><strong>Local Checkout stand-in</strong> (not Stripe): pays through localstripe.</p>
<p>{what}</p><form method="post"><label>Card number <input name="card" value="4242424242424242"></label>
<button type="submit">Pay</button></form></body></html>"""


async def pay_page(request: web.Request) -> web.Response:
    s = SESSIONS.get(request.match_info["id"])
    if not s:
        return web.Response(status=404, text="no such session")
    amount = s["amount_total"]
    what = ("Save a card" if s["mode"] == "setup" else
            f"{s['mode'].title()}: {amount} {str(s['currency']).upper()} (minor units)")
    return web.Response(text=PAGE.format(what=html.escape(what)), content_type="text/html")


async def pay_submit(request: web.Request) -> web.Response:
    form = await request.post()
    status, out = await complete(request.match_info["id"], str(form.get("card") or "4242424242424242"))
    if status == 200 and out.get("success_url"):
        raise web.HTTPSeeOther(out["success_url"])
    return web.Response(status=status, text=json.dumps(out), content_type="application/json")


async def configure(request: web.Request) -> web.Response:
    CONFIG.update({k: v for k, v in (await request.json()).items() if k in CONFIG})
    return web.json_response({k: v for k, v in CONFIG.items() if k != "webhook_secret"})


async def forward(request: web.Request) -> web.Response:
    """Every other Stripe call goes to localstripe as it came."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
    async with aiohttp.ClientSession() as http, http.request(
            request.method, CONFIG["upstream"] + request.path_qs, data=await request.read(), headers=headers) as r:
        return web.Response(status=r.status, body=await r.read(), content_type="application/json")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/v1/checkout/sessions", create_session)
    app.router.add_get("/v1/checkout/sessions/{id}", get_session)
    app.router.add_post("/v1/checkout/sessions/{id}/expire", expire_session)
    app.router.add_post("/_standin/sessions/{id}/complete", complete_api)
    app.router.add_post("/_standin/config", configure)
    app.router.add_get("/pay/{id}", pay_page)
    app.router.add_post("/pay/{id}", pay_submit)
    app.router.add_route("*", "/v1/{tail:.*}", forward)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8421)
    parser.add_argument("--upstream", default="http://127.0.0.1:8420", help="localstripe's URL")
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-secret")
    args = parser.parse_args()
    CONFIG.update(upstream=args.upstream.rstrip("/"), webhook_url=args.webhook_url,
                  webhook_secret=args.webhook_secret)
    web.run_app(make_app(), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
