"""The token is checked before the body: a stranger hears 401 (or a suspended partner 403)
whatever it sends, never a 422 describing the route's payload."""

from __future__ import annotations

import pytest

from conftest import check_error, new_client

BAD_BODIES = [b"{not json", b'{"days": "five"}', b"[]", b'{"name": 5}', "\u00e9".encode("latin-1")]
ROUTES = [("PUT", "/channels"), ("POST", "/channels/ABCDEF-12345/extend"), ("POST", "/admin/partners"),
          ("PATCH", "/projects/" + "a" * 20), ("POST", "/channels/extend")]


@pytest.mark.parametrize("method,path", ROUTES)
@pytest.mark.parametrize("body", BAD_BODIES)
def test_no_token_and_a_bad_body_is_401(base_url, method, path, body):
    with new_client(base_url) as anon:
        check_error(anon.request(method, path, content=body, headers={"content-type": "application/json"}), 401,
                    message="missing API token")
    with new_client(base_url, "dlp_" + "x" * 40) as wrong:
        check_error(wrong.request(method, path, content=body), 401, message="unknown")


def test_a_valid_token_with_a_bad_body_is_422(make_partner):
    p = make_partner()
    check_error(p.client.request("PUT", "/channels", content=b"{not json"), 422, message="malformed JSON")


def test_bad_path_parameters_without_a_token_are_401(base_url):
    with new_client(base_url) as anon:
        check_error(anon.get("/channels/not-a-channel-id"), 401)
