"""Each error answer of the real server as its exception, with the error shape's code,
message and details; bad input is refused by the server and changes nothing."""

from __future__ import annotations

import pytest

from dayledger.client import (Client, Conflict, DayledgerError, Forbidden, InsufficientBalance, NotFound,
                              Unauthorized, Unprocessable, errors)


def raised(fn, *args, **kwargs) -> DayledgerError:
    with pytest.raises(DayledgerError) as caught:
        fn(*args, **kwargs)
    return caught.value


def test_errors_map_to_their_exceptions(make_partner, client_for, base_url):
    p = make_partner(balance=2)
    c = client_for(p)
    ch = c.channels.create("errors")

    e = raised(c.channels.extend, ch.id, 3, "more than the balance")
    assert type(e) is InsufficientBalance and e.code == 402 and e.message == "insufficient balance"
    assert "needs 3 days but the balance is 2" in e.details and e.response is not None

    e = raised(c.channels.get, "ZZZZZZ-00000")
    assert type(e) is NotFound and (e.code, e.message) == (404, "channel not found")

    e = raised(c.channels.start, ch.id)  # no paid time
    assert type(e) is Conflict and e.code == 409 and "extend" in e.details

    e = raised(c.channels.extend, ch.id, 0, "zero days")
    assert type(e) is Unprocessable and e.code == 422 and "days" in e.details

    other = make_partner()
    with Client(base_url, other.token) as oc:
        e = raised(oc.channels.extend, ch.id, 1, "another partner's channel")
        assert type(e) is NotFound  # another partner's channel is 404
        oc._partner_name = p.name  # another partner's name in a /partners/{name} path
        e = raised(oc.partner.get)
        assert type(e) is Forbidden and e.code == 403 and "belongs to partner" in e.details

    with Client(base_url, "dlp_" + "x" * 40) as bad:
        e = raised(bad.channels.list)
        assert type(e) is Unauthorized and (e.code, e.message) == (401, "invalid API token")

    read_only = c.tokens.create(scope="read").token
    with Client(base_url, read_only) as ro:
        e = raised(ro.channels.extend, ch.id, 1, "read-only")
        assert type(e) is Forbidden and "channels" in e.details
    assert c.partner.balance() == 2


def test_every_status_has_its_class():
    assert errors.BY_STATUS == {400: errors.BadRequest, 401: Unauthorized, 402: InsufficientBalance, 403: Forbidden,
                                404: NotFound, 409: Conflict, 422: Unprocessable, 429: errors.RateLimited}
    assert all(issubclass(cls, DayledgerError) for cls in errors.BY_STATUS.values())
    assert issubclass(errors.ServerError, DayledgerError) and issubclass(errors.ConnectionFailed, DayledgerError)


def test_bad_input_is_refused_by_the_server_and_changes_nothing(make_partner, client_for, db):
    p = make_partner(balance=5)
    c = client_for(p)
    ch = c.channels.create("bad input")
    before = db.rows("SELECT id FROM ledger_entries WHERE partner_id = :p", p=p.id)
    bad_calls = [
        lambda: c.channels.extend(ch.id, -1, "negative"),
        lambda: c.channels.extend(ch.id, 1, ""),  # a comment is required
        lambda: c.channels.extend(ch.id, 1, "x", currency="euro"),
        lambda: c.channels.extend_many({}, "nothing"),
        lambda: c.channels.extend_many({"not-an-id": 1}, "bad id"),
        lambda: c.channels.extend_many([(ch.id, 1), (ch.id, 1)], "twice"),
        lambda: c.channels.create(""),
        lambda: c.channels.create("x", phone="12"),
        lambda: c.channels.mode(ch.id, "prod"),  # type: ignore[arg-type]
        lambda: c.channels.list(count=501),
        lambda: c.policies.set_channel(ch.id, 1, 5, budget_days=2),
        lambda: c.notices.set(email_events=["no.such.event"]),
        lambda: c.tokens.create(scope="root"),  # type: ignore[arg-type]
    ]
    for call in bad_calls:
        e = raised(call)
        assert type(e) is Unprocessable and e.code == 422, (e, call)
    e = raised(c.channels.get, "bad id")
    assert e.code in (404, 422)
    # The same key with another body is refused too.
    c.channels.extend(ch.id, 1, "first", idempotency_key="k-1")
    e = raised(c.channels.extend, ch.id, 2, "second", idempotency_key="k-1")
    assert type(e) is Unprocessable and "Idempotency-Key" in e.message
    after = db.rows("SELECT id FROM ledger_entries WHERE partner_id = :p", p=p.id)
    assert len(after) == len(before) + 1 and c.partner.balance() == 4


def test_one_bulk_call_takes_up_to_5000_channels(make_partner, client_for):
    """5,000 items pass the body limit and validation (these ids do not exist: 404); 5,001 are 422."""
    c = client_for(make_partner(balance=5))
    items = {f"ABCDEF-{i:05d}": 1_000_000 for i in range(5_000)}
    e = raised(c.channels.extend_many, items, "\U0001F600" * 1000)
    assert type(e) is NotFound, e
    items["ABCDEF-ZZZZZ"] = 1
    e = raised(c.channels.extend_many, items, "too many")
    assert type(e) is Unprocessable and "5000" in e.details


def test_an_answer_of_another_shape_is_unexpected_reply(make_partner, client_for, proxy):
    """A 200 that is not the reply model (here a proxy's page standing in for the server)."""
    from dayledger.client import UnexpectedReply

    from .conftest import Rule

    body = b'{"id":"ABCDEF-12345","name":"x"}'
    proxy.rules.append(Rule(lambda m, path: m == "GET", replace=b"HTTP/1.1 200 OK\r\ncontent-type: application/json"
                            b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body))
    c = client_for(make_partner(), url=proxy.url)
    e = raised(c.channels.get, "ABCDEF-12345")
    assert type(e) is UnexpectedReply and e.code == 200 and e.message == "the answer is not a ChannelReply"
    assert "apiUrl" in e.details  # a missing field named
