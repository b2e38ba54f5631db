"""Property-based fuzzing of OUR /openapi.json with schemathesis, against a real server.

Every operation (channels, projects, partner account, operator, gateway) gets generated
requests, valid and invalid; every response must not be a 5xx and must match what our
/openapi.json declares for it: the status code, the content type and the body schema.

Bounded and reproducible: a fixed seed, derandomized Hypothesis, few examples per
operation. The server here is a second app on the same database with a create rate limit
high enough that fuzzing never meets it (429 is still declared and covered elsewhere).
Path ids the generator makes up are mostly swapped for real ones (a pool of live
channels and projects, refilled when a fuzzed DELETE removes one), so success paths are
fuzzed too and not only 404s.
"""

from __future__ import annotations

import json
import re
import secrets
import traceback
import zlib

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_schema_conformance,
                                 status_code_conformance)

from conftest import LiveServer, free_port
from dayledger.app import create_app
from dayledger.clock import Clock
from dayledger.config import Settings
from dayledger.ids import CHANNEL_ID_PATTERN, PROJECT_ID_PATTERN



def not_an_undocumented_server_error(ctx, response, case):
    """``not_a_server_error``, except the payment routes' documented 502 (Stripe refused)
    and 503 (payments not configured: this fuzz server has no Stripe keys). Whether the
    operation documents them is ``status_code_conformance``'s check."""
    if response.status_code in (502, 503) and response.json().get("error", {}).get("code") == response.status_code:
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [not_an_undocumented_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
MAX_EXAMPLES = 8
SEED = 20261121
HYPOTHESIS = hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                                 suppress_health_check=list(hypothesis.HealthCheck), print_blob=True)
POOL_SIZE = 3  # a made-up id is swapped for one of POOL_SIZE real ones, or kept (-> 404)


@pytest.fixture(scope="module")
def fuzz_server(settings):
    app = create_app(settings.model_copy(update={"create_rate_limit": 10**9}), clock=Clock())
    live = LiveServer(app, free_port()).start()
    yield live
    live.stop()


class Partner:
    """A funded, trial-eligible partner on the fuzz server with pools of real ids."""

    def __init__(self, base_url: str, operator: httpx.Client, name: str) -> None:
        r = operator.post("/admin/partners", json={"name": name, "email": f"{name}@example.com",
                                                   "trialEligible": True, "sandboxLimit": 2})
        assert r.status_code == 201, r.text
        self.name, self.id = name, r.json()["id"]
        r = operator.post(f"/admin/partners/{name}/credit", json={"days": 100_000, "comment": "fuzz funds"})
        assert r.status_code == 200, r.text
        t = operator.post(f"/admin/partners/{name}/tokens", json={"name": "fuzz", "scope": "full"})
        assert t.status_code == 201, t.text
        self.token = t.json()["token"]
        self.client = httpx.Client(base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {self.token}"})
        self.channels = [self.new_channel() for _ in range(POOL_SIZE)]
        self.projects = [self.new_project() for _ in range(POOL_SIZE)]

    def new_channel(self) -> str:
        r = self.client.put("/channels", json={"name": "fuzz", "projectId": "default"})
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def new_project(self) -> str:
        r = self.client.put("/projects", json={"name": "fuzz"})
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def refill(self) -> None:
        """Replace pooled ids a fuzzed DELETE removed."""
        for i, cid in enumerate(self.channels):
            if self.client.get(f"/channels/{cid}").status_code == 404:
                self.channels[i] = self.new_channel()
        for i, pid in enumerate(self.projects):
            if self.client.get(f"/projects/{pid}").status_code == 404:
                self.projects[i] = self.new_project()


@pytest.fixture(scope="module")
def fuzz_partner(fuzz_server, operator_token) -> Partner:
    with httpx.Client(base_url=fuzz_server.url, timeout=30,
                      headers={"Authorization": f"Bearer {operator_token}"}) as operator:
        partner = Partner(fuzz_server.url, operator, f"fuzz-{secrets.token_hex(4)}")
    yield partner
    partner.client.close()


@pytest.fixture(scope="module")
def fuzz_victim(fuzz_server, operator_token) -> str:
    """The partner the operator routes are fuzzed on (they may suspend it, debit it...)."""
    with httpx.Client(base_url=fuzz_server.url, timeout=30,
                      headers={"Authorization": f"Bearer {operator_token}"}) as operator:
        name = f"fuzz-victim-{secrets.token_hex(4)}"
        r = operator.post("/admin/partners", json={"name": name, "email": "victim@example.com"})
        assert r.status_code == 201, r.text
    return name


def load(fuzz_server):
    config = schemathesis.Config.from_dict({"seed": SEED, "generation": {"deterministic": True}})
    return schemathesis.openapi.from_url(fuzz_server.url + "/openapi.json", config=config)


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_server):
    return load(fuzz_server)


def use_real_ids(case, partner: Partner) -> None:
    """Swap a generated, well-formed ChannelID/ProjectID for a real one most of the time;
    a malformed one stays malformed (-> 422) and one in POOL_SIZE + 1 stays made up (-> 404)."""
    params = case.path_parameters or {}
    for name, pattern, pool in (("ChannelID", CHANNEL_ID_PATTERN, partner.channels),
                                ("ProjectID", PROJECT_ID_PATTERN, partner.projects)):
        value = params.get(name)
        if not isinstance(value, str) or not re.search(pattern, value):
            continue
        slot = zlib.crc32(value.encode("utf-8", "surrogatepass")) % (POOL_SIZE + 1)
        if slot < POOL_SIZE:
            params[name] = pool[slot]


def our_operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in our OpenAPI document, read at collection time
    from an app that is never started (so the parametrization needs no server)."""
    app = create_app(Settings(database_url="sqlite+aiosqlite:///never-opened.db"))
    return sorted((m.upper(), p) for p, item in app.openapi()["paths"].items() for m in item)


OPERATIONS = our_operations()
PARTNER_OPS = [op for op in OPERATIONS if not op[1].startswith(("/admin/", "/gateway/"))]
OPERATOR_OPS = [op for op in OPERATIONS if op[1].startswith(("/admin/", "/gateway/"))]


def fuzz(schema, method: str, path: str, token: str, partner_name: str, before_call=None, after_call=None):
    """Run MAX_EXAMPLES valid and MAX_EXAMPLES invalid generated requests against one operation."""
    operation = schema[path][method]
    fixed = {"PartnerName": partner_name} if "{PartnerName}" in path else None
    headers = {"Authorization": f"Bearer {token}"}
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        @HYPOTHESIS
        @hypothesis.seed(SEED)
        @hypothesis.given(case=operation.as_strategy(mode, path_parameters=fixed))
        def run(case):
            if before_call:
                before_call(case)
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS, headers=headers)
            if after_call:
                after_call(case, response)
        try:
            run()
        except hypothesis.errors.Unsatisfiable:
            # Nothing left to make invalid (e.g. the only input is the fixed PartnerName).
            if mode is GenerationMode.POSITIVE:
                raise


@pytest.mark.parametrize("method,path", PARTNER_OPS, ids=[f"{m} {p}" for m, p in PARTNER_OPS])
def test_partner_routes_conform_to_our_openapi(method, path, fuzz_schema, fuzz_partner):
    def refill_after_delete(case, response):
        if case.method == "DELETE" and response.status_code == 200:
            fuzz_partner.refill()
    fuzz(fuzz_schema, method, path, fuzz_partner.token, fuzz_partner.name,
         before_call=lambda case: use_real_ids(case, fuzz_partner), after_call=refill_after_delete)


@pytest.mark.parametrize("method,path", OPERATOR_OPS, ids=[f"{m} {p}" for m, p in OPERATOR_OPS])
def test_operator_and_gateway_routes_conform_to_our_openapi(method, path, fuzz_schema, operator_token, fuzz_victim):
    fuzz(fuzz_schema, method, path, operator_token, fuzz_victim)


def test_fuzzing_setup_is_not_vacuous(fuzz_server, fuzz_partner, fuzz_schema):
    """The fuzzed schema covers every route we serve, and its checks catch a broken reply."""
    served = {(m.upper(), p) for p, item in httpx.get(fuzz_server.url + "/openapi.json").json()["paths"].items()
              for m in item}
    assert served == set(OPERATIONS) and len(served) >= 30
    op = fuzz_schema["/channels/{ChannelID}"]["GET"]
    case = op.Case(path_parameters={"ChannelID": fuzz_partner.channels[0]},
                   headers={"Authorization": f"Bearer {fuzz_partner.token}"})
    good = case.call()
    assert good.status_code == 200
    case.validate_response(good, checks=CHECKS)
    expect_failure(case, altered(good, 200, {k: v for k, v in good.json().items() if k != "token"}),
                   response_schema_conformance, '"token" is a required property')
    expect_failure(case, altered(good, 200, {**good.json(), "secret": 1}),  # an undeclared field
                   response_schema_conformance, "Additional properties are not allowed")
    expect_failure(case, altered(good, 418, {"error": {"code": 418, "message": "teapot", "details": ""}}),
                   status_code_conformance, "418")
    expect_failure(case, altered(good, 404, {"error": {"code": 404, "message": "gone"}}),  # no details
                   response_schema_conformance, '"details" is a required property')


def expect_failure(case, response, check, text: str) -> None:
    """``check`` must fail on ``response``, naming ``text``."""
    try:
        case.validate_response(response, checks=[check])
    except BaseException as exc:  # schemathesis raises a (Base)ExceptionGroup of failures
        rendered = "".join(traceback.format_exception(exc))
        assert text in rendered, rendered
    else:
        pytest.fail(f"{check.__name__} accepted a broken response (expected: {text})")


def altered(response, status: int, body) -> schemathesis.Response:
    """``response`` with another status and JSON body, for the negative controls."""
    return schemathesis.Response(status_code=status, headers=response.headers, content=json.dumps(body).encode(),
                                 request=response.request, elapsed=response.elapsed, verify=response.verify)
