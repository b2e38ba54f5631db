"""A real local HTTP receiver of webhooks: it verifies every request with the
``standardwebhooks`` package (the reference implementation of the signing scheme) and
answers as told: a status, a stall longer than the sender's read timeout, or nothing at all
(stopped: the connection is refused)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from conftest import free_port


@dataclass
class Received:
    msg_id: str
    type: str
    data: dict
    timestamp: str
    status: int  # what the receiver answered
    path: str
    headers: dict = field(default_factory=dict)


class Receiver:
    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.port = free_port()
        self.plan: list[int | float] = []  # per request: a status, or seconds to stall (float)
        self.default = 204
        self.delay = 0.0  # seconds every answer takes
        self.body = b""
        self.received: list[Received] = []
        self.forged: list[str] = []  # requests whose signature did not verify
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> Receiver:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with outer.lock:
                    action = outer.plan.pop(0) if outer.plan else outer.default
                if outer.delay:
                    time.sleep(outer.delay)
                if isinstance(action, float):
                    time.sleep(action)
                    action = 200  # too late: the sender has given up
                try:
                    payload = Webhook(outer.secret or "").verify(body, headers)
                except (WebhookVerificationError, Exception) as exc:  # noqa: BLE001 - recorded, then failed
                    with outer.lock:
                        outer.forged.append(f"{headers.get('webhook-id')}: {exc}")
                    action = 400
                else:
                    with outer.lock:
                        outer.received.append(Received(headers["webhook-id"], payload["type"], payload["data"],
                                                       payload["timestamp"], int(action), self.path, headers))
                self.send_response(int(action))
                self.send_header("content-length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening: from now on the connection is refused."""
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def accepted(self) -> list[Received]:
        """Deliveries this receiver verified and answered with 2xx."""
        with self.lock:
            return [r for r in self.received if 200 <= r.status < 300]

    def ids(self) -> list[str]:
        return [r.msg_id for r in self.accepted()]


