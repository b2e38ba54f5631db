"""A local stand-in for Stripe Checkout and sent invoices, in front of localstripe (which has neither).

Named as such wherever it is used: it is not Stripe. It serves the APIs localstripe lacks
and forwards every other ``/v1`` call to localstripe untouched, so dayledger's official
``stripe`` library talks to one base URL as it would to Stripe (customers, PaymentIntents,
subscriptions and their invoices stay real, in localstripe).

Checkout: ``/v1/checkout/sessions`` (create, retrieve, expire). Paying a session (the
``/pay/{id}`` page a person opens, or ``POST /_standin/sessions/{id}/complete`` from a test)
does in localstripe what Checkout does in Stripe -- a PaymentIntent (mode payment), a
confirmed SetupIntent with the card attached to the customer (mode setup), or a product,
plan and subscription (mode subscription; localstripe then sends its own invoice events)
-- and POSTs a ``checkout.session.completed`` event signed like Stripe's
(``Stripe-Signature``, HMAC-SHA256) to the configured webhook URL before it answers.

Invoices sent to the customer (localstripe refuses ``collection_method``): ``POST
/v1/invoices`` (send_invoice with days_until_due, for a customer localstripe knows),
``POST /v1/invoiceitems`` (onto one of these drafts), ``POST /v1/invoices/{id}/finalize``
(open, with ``hosted_invoice_url`` = ``/invoice/{id}`` here), ``.../pay`` (paid out of band
only), ``.../void`` and ``GET /v1/invoices/{id}``; a replayed Idempotency-Key answers the
first reply. Ids it did not make (a subscription's invoice) go to localstripe. Paying on
the hosted page (or ``POST /_standin/invoices/{id}/pay-hosted`` from a test) charges the
card through a PaymentIntent in localstripe, marks the invoice paid and POSTs signed
``invoice.paid`` and ``invoice.payment_succeeded`` events before it answers.

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


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width,initial-scale=1"></head>
<body style="font-family:sans-serif;max-width:28rem;margin:2rem auto">
<p><strong>Local {title}</strong> (not Stripe): pays through localstripe.</p>
<p>{what}</p>{form}</body></html>"""
FORM = """<form method="post"><label>Card number <input name="card" value="4242424242424242"></label>
<button type="submit">Pay</button></form>"""


def page(title: str, what: str, *, form: bool = True, status: int = 200) -> web.Response:
    return web.Response(status=status, content_type="text/html",
                        text=PAGE.format(title=title, what=html.escape(what), form=FORM if form else ""))


async def pay_page(request: web.Request) -> web.Response:
    s = SESSIONS.get(request.match_info["id"])
    if not s:
        return web.Response(status=404, text="no such session")
    amount = s["amount_total"]
    what = ("Save a card" if s["mode"] == "setup" else
            f"{s['mode'].title()}: {amount} {str(s['currency']).upper()} (minor units)")
    return page("Checkout stand-in", what)


async def pay_submit(request: web.Request) -> web.Response:
    form = await request.post()
    status, out = await complete(request.match_info["id"], str(form.get("card") or "4242424242424242"))
    if status == 200 and out.get("success_url"):
        raise web.HTTPSeeOther(out["success_url"])
    return web.Response(status=status, text=json.dumps(out), content_type="application/json")


# --- Invoices sent to the customer -------------------------------------------------------

INVOICES: dict[str, dict[str, Any]] = {}
REPLIES: dict[str, tuple[int, Any]] = {}  # Idempotency-Key -> the first reply
INVOICE_LOCK = asyncio.Lock()  # one invoice call at a time, like a serial emulator
Outcome = tuple[int, Any]


def refusal(message: str, status: int = 400) -> Outcome:
    return status, {"error": {"type": "invalid_request_error", "message": message}}


async def once(request: web.Request, fn: Any) -> web.Response:
    """``await fn(params)`` once per Idempotency-Key, as Stripe does: a replay gets the first reply."""
    key = request.headers.get("Idempotency-Key")
    params = decode_form(await request.text())
    async with INVOICE_LOCK:
        if key and key in REPLIES:
            status, body = REPLIES[key]
        else:
            status, body = await fn(params)
            if key:
                REPLIES[key] = (status, json.loads(json.dumps(body)))  # as it was then
    return web.json_response(body, status=status)


async def customer_exists(request: web.Request, customer: str) -> bool:
    if not customer:
        return False
    auth = {"Authorization": request.headers.get("Authorization", "Bearer sk_test_standin")}
    async with aiohttp.ClientSession() as http, http.get(f"{CONFIG['upstream']}/v1/customers/{customer}",
                                                        headers=auth) as r:
        return r.status == 200


async def create_invoice(request: web.Request) -> web.Response:
    async def fn(p: dict[str, Any]) -> Outcome:
        if not await customer_exists(request, str(p.get("customer") or "")):
            return refusal(f"No such customer: '{p.get('customer')}'", 404)
        if p.get("collection_method") != "send_invoice" or not str(p.get("days_until_due", "")).isdigit():
            return refusal("this stand-in only makes invoices sent to the customer: "
                           "collection_method=send_invoice with days_until_due")
        inv = {"id": "in_" + secrets.token_hex(12), "object": "invoice", "status": "draft",
               "customer": p["customer"], "currency": p.get("currency"), "collection_method": "send_invoice",
               "days_until_due": int(p["days_until_due"]), "auto_advance": p.get("auto_advance") == "true",
               "description": p.get("description"),
               "pending_invoice_items_behavior": p.get("pending_invoice_items_behavior"),
               "metadata": p.get("metadata") or {}, "lines": {"object": "list", "data": []},
               "amount_due": 0, "amount_paid": 0, "amount_remaining": 0, "hosted_invoice_url": None,
               "paid_out_of_band": False, "charge": None, "payment_intent": None, "subscription": None,
               "created": int(time.time()), "livemode": False}
        INVOICES[inv["id"]] = inv
        return 200, inv
    return await once(request, fn)


async def create_item(request: web.Request) -> web.Response:
    async def fn(p: dict[str, Any]) -> Outcome:
        inv = INVOICES.get(str(p.get("invoice") or ""))
        if inv is None:
            return refusal("this stand-in only attaches items to its own invoices")
        if inv["status"] != "draft" or p.get("customer") != inv["customer"]:
            return refusal("the invoice is not a draft of this customer")
        if p.get("currency") != inv["currency"]:
            return refusal("the item's currency is not the invoice's")
        if not str(p.get("amount", "")).isdigit():
            return refusal("amount must be a whole number of minor units")
        line = {"id": "ii_" + secrets.token_hex(12), "object": "invoiceitem", "invoice": inv["id"],
                "customer": inv["customer"], "amount": int(p["amount"]), "currency": p["currency"],
                "description": p.get("description"), "metadata": p.get("metadata") or {}}
        inv["lines"]["data"].append(line)
        return 200, line
    return await once(request, fn)


async def transition(request: web.Request, change: Any) -> web.Response:
    """``change(invoice, params)`` on one of this stand-in's invoices (a refusal as a
    string); another invoice is localstripe's, asked as it came."""
    iid = request.match_info["id"]
    if iid not in INVOICES:
        return await forward(request)

    async def fn(p: dict[str, Any]) -> Outcome:
        inv = INVOICES[iid]
        refused = change(inv, p)
        return refusal(refused) if refused else (200, inv)
    return await once(request, fn)


async def finalize_invoice(request: web.Request) -> web.Response:
    def change(inv: dict[str, Any], p: dict[str, Any]) -> str | None:
        if inv["status"] != "draft":
            return "the invoice is already finalized"
        due = sum(line["amount"] for line in inv["lines"]["data"])
        inv.update(status="open", amount_due=due, amount_remaining=due, auto_advance=p.get("auto_advance") == "true",
                   hosted_invoice_url=f"{request.url.origin()}/invoice/{inv['id']}")
        return None
    return await transition(request, change)


async def pay_invoice(request: web.Request) -> web.Response:
    def change(inv: dict[str, Any], p: dict[str, Any]) -> str | None:
        if inv["status"] != "open":
            return f"Invoice is already {inv['status']}"
        if p.get("paid_out_of_band") != "true":
            return "this stand-in only records payments made out of band"
        inv.update(status="paid", paid_out_of_band=True)
        return None
    return await transition(request, change)


async def void_invoice(request: web.Request) -> web.Response:
    def change(inv: dict[str, Any], p: dict[str, Any]) -> str | None:
        if inv["status"] != "open":
            return f"You can only void an open invoice; this one is {inv['status']}"
        inv.update(status="void", amount_remaining=0)
        return None
    return await transition(request, change)


async def get_invoice(request: web.Request) -> web.Response:
    inv = INVOICES.get(request.match_info["id"])
    return web.json_response(inv) if inv else await forward(request)


def _charge(inv: dict[str, Any], number: str) -> tuple[str, str]:
    """What the hosted page does in Stripe, done in localstripe (blocking: run in a
    thread): the card charged by a PaymentIntent of the customer. (charge, intent)."""
    client = upstream()
    pm = _card(client, number)
    client.v1.payment_methods.attach(pm.id, params={"customer": inv["customer"]})
    pi = client.v1.payment_intents.create(params={
        "amount": inv["amount_due"], "currency": inv["currency"], "customer": inv["customer"],
        "payment_method": pm.id, "confirm": True})
    charge = pi.latest_charge
    if pi.status != "succeeded" or charge is None:
        raise RuntimeError(f"localstripe left {pi.id} {pi.status}")
    return (charge if isinstance(charge, str) else charge.id), pi.id


async def pay_hosted(iid: str, number: str) -> Outcome:
    async with INVOICE_LOCK:
        inv = INVOICES.get(iid)
        if inv is None:
            return refusal("No such invoice", 404)
        if inv["status"] != "open":
            return refusal(f"Invoice is already {inv['status']}")
        try:
            charge, intent = await asyncio.to_thread(_charge, inv, number)
        except stripe.CardError as exc:
            return 402, {"error": {"type": "card_error", "message": str(exc.user_message), "code": exc.code}}
        inv.update(status="paid", amount_paid=inv["amount_due"], amount_remaining=0, charge=charge,
                   payment_intent=intent)
    # Sent outside the lock: the server may hold the invoice's row while it asks this
    # stand-in to mark it paid out of band, and the event needs that row.
    for type in ("invoice.paid", "invoice.payment_succeeded"):
        await send_event(type, inv)
    return 200, inv


async def pay_hosted_api(request: web.Request) -> web.Response:
    body = await request.json() if request.can_read_body else {}
    status, out = await pay_hosted(request.match_info["id"], body.get("card") or "4242424242424242")
    return web.json_response(out, status=status)


def _invoice_what(inv: dict[str, Any]) -> str:
    return (f"Invoice {inv['id']}: {inv['description'] or ''}. {inv['amount_due']} "
            f"{str(inv['currency']).upper()} (minor units), {inv['status']}.")


async def invoice_page(request: web.Request) -> web.Response:
    inv = INVOICES.get(request.match_info["id"])
    if not inv or inv["status"] == "draft":
        return web.Response(status=404, text="no such invoice")
    return page("invoice stand-in", _invoice_what(inv), form=inv["status"] == "open")


async def invoice_submit(request: web.Request) -> web.Response:
    form = await request.post()
    status, out = await pay_hosted(request.match_info["id"], str(form.get("card") or "4242424242424242"))
    if status != 200:
        return page("invoice stand-in", out["error"]["message"], form=False, status=status)
    return page("invoice stand-in", _invoice_what(out), form=False)


async def list_invoices(request: web.Request) -> web.Response:
    """This stand-in's invoices (of one customer with ``?customer=``), for tests."""
    customer = request.query.get("customer")
    return web.json_response({"data": [i for i in INVOICES.values() if customer in (None, i["customer"])]})


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
    app.router.add_post("/v1/invoices", create_invoice)
    app.router.add_post("/v1/invoiceitems", create_item)
    app.router.add_post("/v1/invoices/{id}/finalize", finalize_invoice)
    app.router.add_post("/v1/invoices/{id}/pay", pay_invoice)
    app.router.add_post("/v1/invoices/{id}/void", void_invoice)
    app.router.add_get("/v1/invoices/{id}", get_invoice)
    app.router.add_post("/_standin/sessions/{id}/complete", complete_api)
    app.router.add_post("/_standin/config", configure)
    app.router.add_get("/pay/{id}", pay_page)
    app.router.add_post("/pay/{id}", pay_submit)
    app.router.add_post("/_standin/invoices/{id}/pay-hosted", pay_hosted_api)
    app.router.add_get("/_standin/invoices", list_invoices)
    app.router.add_get("/invoice/{id}", invoice_page)
    app.router.add_post("/invoice/{id}", invoice_submit)
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
