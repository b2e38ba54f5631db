"""Hostile input at the HTTP layer: bodies and headers too large, bodies too slow, control
characters in text, JSON nested too deeply, and the Allow header of 405/OPTIONS. Raw
sockets where a client library would hide what is checked (when the answer arrives, how
much was sent by then, whether the connection closes)."""

from __future__ import annotations

import gc
import json
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from conftest import LiveServer, free_port
from dayledger.app import create_app

from .conftest import check_error, new_client

MB = 1024 * 1024
PIECE = b"x" * (64 * 1024)


def kernel_buffers() -> int:
    """The most a client can have sent that the server never read: what the kernel's TCP
    receive and send buffers may grow to (their maxima), plus the server's own 64 KiB."""
    total = 64 * 1024
    for name in ("tcp_rmem", "tcp_wmem"):
        with open(f"/proc/sys/net/ipv4/{name}") as f:
            total += int(f.read().split()[2])
    return total


IN_FLIGHT = kernel_buffers()


def rss_bytes() -> int:
    """Resident memory of this process, which runs the test server in a thread."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakGrowth:
    """The most this process's resident memory grew while the block ran, sampled every few
    milliseconds: a body read whole and freed again shows here, not in a before/after."""

    def __enter__(self) -> "PeakGrowth":
        gc.collect()
        self.before = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def grown(self) -> int:
        return self.peak - self.before


@dataclass
class Exchange:
    """What a raw-socket request saw: the answer, and how many body bytes the client had
    sent when the answer's first byte arrived and in all."""
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    sent_when_answered: int | None = None
    answered_at: float | None = None  # time.monotonic() of the answer's first byte
    sent: int = 0
    closed: bool = False  # the server closed the connection after its answer

    def error(self) -> dict:
        assert self.headers.get("content-type", "").startswith("application/json"), self.headers
        doc = json.loads(self.body)
        assert set(doc) == {"error"} and set(doc["error"]) == {"code", "message", "details"}, doc
        assert doc["error"]["code"] == self.status, doc
        return doc["error"]


def _read_answer(sock: socket.socket, ex: Exchange, answered: threading.Event) -> None:
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            if not piece:
                return
            if ex.sent_when_answered is None:
                ex.sent_when_answered = ex.sent
                ex.answered_at = time.monotonic()
            data += piece
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        ex.status = int(lines[0].split()[1])
        ex.headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        length = int(ex.headers.get("content-length", "0"))
        while len(rest) < length:
            piece = sock.recv(65536)
            if not piece:
                break
            rest += piece
        ex.body = rest[:length]
        answered.set()
        # After the answer: the server either closes (recv gives b"" or a reset) or not.
        sock.settimeout(3)
        try:
            ex.closed = sock.recv(65536) == b""
        except ConnectionResetError:
            ex.closed = True
        except socket.timeout:
            ex.closed = False
    except OSError:
        pass
    finally:
        answered.set()


def raw_request(base_url: str, head: str, body: Iterable[bytes] = (), *, timeout: float = 30,
                stop_on_answer: bool = True) -> Exchange:
    """Send ``head`` (request line and headers, no blank line) then the pieces of ``body``,
    stopping when the server stops reading (closes), or as soon as an answer arrives if
    ``stop_on_answer`` (else a stubborn client keeps sending after the answer)."""
    url = urlsplit(base_url)
    ex = Exchange()
    answered = threading.Event()
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as sock:
        reader = threading.Thread(target=_read_answer, args=(sock, ex, answered), daemon=True)
        reader.start()
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n")
        try:
            for piece in body:
                if stop_on_answer and answered.is_set():
                    break
                sock.sendall(piece)
                ex.sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while we were still sending
        answered.wait(timeout)
        reader.join(timeout)
    assert ex.status, "no answer"
    return ex


def pieces(total: int) -> Iterator[bytes]:
    for _ in range(total // len(PIECE)):
        yield PIECE


def chunked(total: int) -> Iterator[bytes]:
    for piece in pieces(total):
        yield b"%x\r\n%s\r\n" % (len(piece), piece)
    yield b"0\r\n\r\n"


def host(base_url: str) -> str:
    return urlsplit(base_url).netloc


# ---------------------------------------------------------------- body size


def test_a_100_mb_body_without_a_token_is_refused_before_it_is_read(base_url, http):
    assert IN_FLIGHT < 100 * MB  # else "answered before the client finished" proves nothing
    assert http.get("/channels/list").status_code == 401  # warm up: first-request allocations
    with PeakGrowth() as memory:
        ex = raw_request(base_url, f"PUT /channels HTTP/1.1\r\nHost: {host(base_url)}\r\n"
                                   f"Content-Type: application/json\r\nContent-Length: {100 * MB}",
                         pieces(100 * MB), stop_on_answer=False)
    assert ex.status == 413, (ex.status, ex.body)
    assert "65536" in ex.error()["details"], ex.body
    assert ex.headers.get("connection") == "close" and ex.closed
    # The answer came on the headers alone: by then the client had sent no more than the
    # sockets' buffers hold, and it never got to finish.
    assert ex.sent_when_answered is not None and ex.sent_when_answered <= IN_FLIGHT, ex.sent_when_answered
    assert ex.sent < 100 * MB
    assert memory.grown < 20 * MB, f"server memory grew by {memory.grown / MB:.1f} MB"


def test_a_chunked_body_without_a_token_is_not_read(base_url, http):
    """No Content-Length to refuse on: the token check answers 401 before the body is
    read, and the connection closes instead of draining 100 MB."""
    assert http.get("/channels/list").status_code == 401
    with PeakGrowth() as memory:
        ex = raw_request(base_url, f"PUT /channels HTTP/1.1\r\nHost: {host(base_url)}\r\n"
                                   "Content-Type: application/json\r\nTransfer-Encoding: chunked",
                         chunked(100 * MB), stop_on_answer=False)
    assert ex.status == 401, (ex.status, ex.body)
    ex.error()
    assert ex.headers.get("connection") == "close" and ex.closed
    assert ex.sent_when_answered is not None and ex.sent_when_answered <= IN_FLIGHT, ex.sent_when_answered
    assert ex.sent < 100 * MB
    assert memory.grown < 20 * MB, f"server memory grew by {memory.grown / MB:.1f} MB"


def test_a_chunked_body_is_refused_once_it_passes_the_limit(base_url, http):
    """With a token the route reads the body: it is counted as it arrives and refused with
    413 just past 64 KiB, not after 100 MB."""
    assert http.get("/channels/list").status_code == 401
    with PeakGrowth() as memory:
        ex = raw_request(base_url, f"PUT /channels HTTP/1.1\r\nHost: {host(base_url)}\r\n"
                                   "Authorization: Bearer not-checked-before-the-body\r\n"
                                   "Content-Type: application/json\r\nTransfer-Encoding: chunked",
                         chunked(100 * MB), stop_on_answer=False)
    assert ex.status == 413, (ex.status, ex.body)
    assert "65536" in ex.error()["details"], ex.body
    assert ex.headers.get("connection") == "close" and ex.closed
    assert ex.sent_when_answered is not None and ex.sent_when_answered <= IN_FLIGHT, ex.sent_when_answered
    assert ex.sent < 100 * MB
    assert memory.grown < 20 * MB, f"server memory grew by {memory.grown / MB:.1f} MB"


def test_a_content_length_just_over_the_limit_is_refused_and_at_the_limit_read(make_partner):
    p = make_partner()
    padding = " " * (65536 - len('{"name":"n","projectId":"default"}'))
    at_limit = '{"name":"n","projectId":"default"}' + padding
    assert len(at_limit) == 65536
    r = p.client.put("/channels", content=at_limit, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text  # the whole body was read and the channel made
    r = p.client.put("/channels", content=at_limit + " ", headers={"Content-Type": "application/json"})
    check_error(r, 413, message="65537")
    assert r.headers["connection"] == "close"


def test_bulk_extension_may_send_more_than_the_default(make_partner):
    """POST /channels/extend takes up to 256 KiB: a valid body over 64 KiB (500 channels,
    pretty-printed, a 1,000-character comment escaped, an extra field the reference lets
    clients send) is read; the same bytes elsewhere are too many."""
    p = make_partner(balance=5)
    largest = json.dumps({"channels": [{"id": f"ABCDEF-{i:05d}", "days": 1_000_000} for i in range(500)],
                          "comment": "\U0001F600" * 1000, "padding": "x" * 40_000}, indent=4)
    assert 65536 < len(largest) < 256 * 1024
    r = p.client.post("/channels/extend", content=largest, headers={"Content-Type": "application/json"})
    assert r.status_code != 413, r.text
    check_error(r, 404)  # read and validated: those channels do not exist
    check_error(p.client.put("/channels", content=largest, headers={"Content-Type": "application/json"}), 413)


# ---------------------------------------------------------------- header size


def test_oversized_headers_are_refused_with_431(http):
    r = http.get("/channels/list", headers={"X-Filler": "a" * 20_000})
    check_error(r, 431, message="16384")
    assert r.headers["connection"] == "close"
    # The same request with headers under the limit gets as far as the token check.
    check_error(http.get("/channels/list", headers={"X-Filler": "a" * 8_000}), 401)


def test_a_long_query_counts_as_header_bytes(http):
    check_error(http.get("/channels/list", params={"q": "a" * 20_000}), 431)


# ---------------------------------------------------------------- slow bodies


@pytest.fixture(scope="module")
def impatient(settings, clock):
    """A second server whose limits allow half a second between two pieces of a body."""
    app = create_app(settings.model_copy(update={"body_read_timeout_seconds": 0.5}), clock=clock)
    live = LiveServer(app, free_port()).start()
    yield live.url
    live.stop()


def stalled(first: bytes, pause: float, rest: bytes) -> Iterator[bytes]:
    yield first
    time.sleep(pause)
    yield rest


def test_a_body_that_stops_arriving_gets_408_and_the_connection_closes(impatient):
    head = (f"PUT /channels HTTP/1.1\r\nHost: {host(impatient)}\r\nAuthorization: Bearer any\r\n"
            "Content-Type: application/json\r\nContent-Length: 40")
    started = time.monotonic()
    ex = raw_request(impatient, head, stalled(b'{"name": "slow", ', 2.5, b'"projectId": "default"}'))
    assert ex.status == 408, (ex.status, ex.body)
    assert "0.5 seconds" in ex.error()["details"]
    assert ex.headers.get("connection") == "close" and ex.closed
    assert ex.answered_at is not None
    waited = ex.answered_at - started
    assert 0.5 <= waited < 2.0, waited  # answered at the timeout, not when the client resumed


def test_a_short_pause_is_not_a_timeout(impatient):
    body = b'{"name": "slow", "projectId": "default"}'
    head = (f"PUT /channels HTTP/1.1\r\nHost: {host(impatient)}\r\nAuthorization: Bearer unknown\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}")
    ex = raw_request(impatient, head, stalled(body[:10], 0.1, body[10:]))
    assert ex.status == 401, (ex.status, ex.body)  # read in full, then the token was refused
    assert ex.error()["message"]


# ---------------------------------------------------------------- control characters


@pytest.mark.parametrize("char", ["\x01", "\x1b", "\r", "\x7f"], ids=["SOH", "ESC", "CR", "DEL"])
def test_control_characters_are_refused_in_names_and_emails(admin, make_partner, char):
    p = make_partner()
    check_error(p.put("/channels", json={"name": f"shop{char}1", "projectId": "default"}), 422,
                message="name: Value error, must not contain control characters")
    check_error(p.put("/projects", json={"name": f"proj{char}x"}), 422, message="control characters")
    check_error(admin.post("/admin/partners", json={"name": "ctl-test", "email": f"a{char}b@example.com"}), 422,
                message="email")
    check_error(p.post(f"/partners/{p.name}/tokens", json={"name": f"t{char}x", "scope": "read"}), 422,
                message="control characters")
    assert p.get("/channels/list").json()["total"] == 0


def test_a_comment_may_hold_line_breaks_and_tabs_but_no_other_control(admin, make_partner, db):
    p = make_partner(balance=3)
    err = check_error(admin.post(f"/admin/partners/{p.name}/credit", json={"days": 1, "comment": "a\x01b"}), 422)
    assert "comment" in err["details"] and "U+0001" in err["details"], err
    check_error(admin.post(f"/admin/partners/{p.name}/credit", json={"days": 1, "comment": "a\rb"}), 422,
                message="comment")
    r = admin.post(f"/admin/partners/{p.name}/credit", json={"days": 1, "comment": "line one\n\tline two"})
    assert r.status_code == 200, r.text
    stored = db.scalar("SELECT comment FROM ledger_entries WHERE partner_id = :id ORDER BY id DESC LIMIT 1", id=p.id)
    assert stored == "line one\n\tline two"
    assert p.balance == 4


# ---------------------------------------------------------------- nested JSON


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_is_malformed_json(make_partner, depth):
    p = make_partner(balance=1)
    objects = min(depth, 40_000)  # 6 bytes a level: 40,000 fit in the route's 256 KiB
    for nested in ("[" * depth + "]" * depth, "[" * depth, '{"a":' * objects + "1" + "}" * objects):
        # POST /channels/extend allows 256 KiB, so even 100,000 levels are parsed, not refused for size.
        r = p.client.post("/channels/extend", content=nested, headers={"Content-Type": "application/json"})
        err = check_error(r, 422, message="malformed JSON")
        assert "nested too deeply" in err["details"], err
    assert p.balance == 1


def test_nested_json_on_an_ordinary_route(admin, make_partner):
    p = make_partner()
    r = admin.post(f"/admin/partners/{p.name}/credit", content="[" * 1000 + "]" * 1000,
                   headers={"Content-Type": "application/json"})
    check_error(r, 422, message="nested too deeply")
    # 100,000 levels are 200,000 bytes: over this route's 64 KiB, refused before parsing.
    check_error(admin.post(f"/admin/partners/{p.name}/credit", content="[" * 100_000,
                           headers={"Content-Type": "application/json"}), 413)


# ---------------------------------------------------------------- Allow


def allow_set(r) -> set[str]:
    return {m.strip() for m in r.headers["allow"].split(",")}


def test_options_lists_every_method_of_the_path(http, make_partner):
    p = make_partner()
    for client in (http, p.client):  # the same with or without a token
        r = client.options("/channels/ABCDEF-12345")
        assert r.status_code == 204, r.text
        assert allow_set(r) == {"GET", "PATCH", "DELETE", "OPTIONS"}
        assert r.content == b""
    assert allow_set(http.options("/projects")) == {"GET", "PUT", "OPTIONS"}
    check_error(http.options("/no/such/path"), 404)


def test_405_names_every_method_of_the_path(make_partner):
    p = make_partner()
    r = p.post("/channels/ABCDEF-12345", json={})
    err = check_error(r, 405, message="method not allowed")
    assert allow_set(r) == {"GET", "PATCH", "DELETE", "OPTIONS"}
    assert "POST" in err["details"] and "PATCH" in err["details"], err
    r = p.put(f"/partners/{p.name}/settings", json={})
    check_error(r, 405)
    assert allow_set(r) == {"GET", "PATCH", "OPTIONS"}


def test_headers_under_the_limit_reach_the_app_on_a_fresh_client(base_url):
    """The 431s above closed their connections; a new client is served normally."""
    with new_client(base_url) as c:
        check_error(c.get("/channels/list"), 401)
